// Device settings the DeviceScript way: `.env` files parsed by the CLI's rules, deployed to the VM's
// Settings service as `set` commands whose value is the setting's JSON text.
import * as fs from "fs"

export type SettingValue = string | number | boolean
export type DeviceSettings = Record<string, SettingValue>

/** Jacdac Settings service class and its `set` command (payload "z b": key, NUL, value bytes). */
export const SETTINGS_SERVICE_CLASS = 0x1107dc4a
export const SETTINGS_CMD_SET = 0x81
/** @devicescript/settings refuses longer keys. */
export const MAX_SETTING_KEY_CHARS = 13
/** Larger key + value pairs are stored, then crash the VM when the firmware reads them (measured: 232 bytes do). */
export const MAX_SETTING_BYTES = 230

/** The payload of a Settings `set` command, refusing what the firmware could not read back. */
export function encodeSettingsSet(key: string, value: SettingValue): Buffer {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a key with a control character could not be read back
    if (key.length === 0 || key.length > MAX_SETTING_KEY_CHARS || /[\0-\x1f=]/.test(key)) {
        throw new RangeError(`setting key "${key}" must be 1-${MAX_SETTING_KEY_CHARS} printable characters`)
    }
    if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError(`setting ${key}: ${value} is not a JSON number`)
    const keyBytes = Buffer.from(key, "utf8")
    const valueBytes = Buffer.from(JSON.stringify(value), "utf8")
    const total = keyBytes.length + valueBytes.length
    // The value may be a secret: name the key and the size, never the content.
    if (total > MAX_SETTING_BYTES) {
        throw new RangeError(`setting ${key}: key + value take ${total} bytes, the device supports at most ${MAX_SETTING_BYTES}`)
    }
    return Buffer.concat([keyBytes, Buffer.from([0]), valueBytes])
}

/** A `.env` value as the CLI deploys it: JSON when it parses as a scalar, else the raw text; "" deletes. */
function envValue(text: string, where: string): SettingValue | undefined {
    if (text.length === 0) return undefined
    let v: unknown
    try {
        v = JSON.parse(text)
    } catch {
        return text
    }
    if (v === null) return text
    if (typeof v === "object") throw new Error(`${where}: objects and arrays are not supported as settings`)
    return v as SettingValue
}

/**
 * Parses `.env` text exactly like `devs` 2.16.4 does: a line containing `#` anywhere is dropped;
 * `KEY=value` keeps spaces in the value (the key is trimmed when deployed); an empty value deletes the key.
 */
export function parseEnvSettings(text: string, label: string): Record<string, SettingValue | undefined> {
    const out: Record<string, SettingValue | undefined> = {}
    for (const line of text.split(/\r?\n/)) {
        if (line.includes("#")) continue
        const m = /^([^=]+)=(.*)$/.exec(line)
        if (!m) continue
        const key = m[1].trim()
        out[key] = envValue(m[2], `${label}: ${key}`)
    }
    return out
}

/** Settings from `.env` files, later files overriding earlier ones; missing files count as empty. */
export function readEnvSettings(files: string[]): DeviceSettings {
    const merged: Record<string, SettingValue | undefined> = {}
    for (const file of files) {
        if (!fs.existsSync(file)) continue
        Object.assign(merged, parseEnvSettings(fs.readFileSync(file, "utf8"), file))
    }
    const settings: DeviceSettings = {}
    for (const [key, value] of Object.entries(merged)) if (value !== undefined) settings[key] = value
    return settings
}
