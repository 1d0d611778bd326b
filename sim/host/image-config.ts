// The configuration partition of a DeviceScript runtime image (DCFG: what `devs flash|bundle` write at
// 0x9000 from the board file), read here so the simulator takes an image's TLS trust anchors and client
// identity from the same bytes a board boots with. Layout as the pinned CLI writes it: a 88-byte header
// (magic "DCFG" 0xCAB49B0A, total size, entry count, hashes, a 32-slot hash jump table), then 24-byte
// entries (15-char key + NUL, key hash, type | size << 2, value or data offset), then NUL-terminated data.
import * as crypto from "crypto"
import * as fs from "fs"

export type ConfigValue = number | string | Buffer

/** Where `devs bundle` puts it in an ESP32-C3/S3 image (arch dcfgOffset 0x9000, image starting at flash 0). */
export const ESP32_CONFIG_OFFSET = 0x9000

const MAGIC0 = 0x47464344
const MAGIC1 = 0xcab49b0a
const HEADER_SIZE = 24 + 2 * 32
const ENTRY_SIZE = 24
const KEY_SIZE = 15
const TYPE_U32 = 0
const TYPE_I32 = 1
const TYPE_STRING = 2
/** Nested board-file keys are flattened: "a.b", and array element i as the character 0x80 + i. */
const ARRAY_BASE = 0x80

export function isImageConfig(buf: Buffer, at = 0): boolean {
    return buf.length >= at + HEADER_SIZE && buf.readUInt32LE(at) === MAGIC0 && buf.readUInt32LE(at + 4) === MAGIC1
}

/** The entries of the configuration at `at` in `buf`; throws when there is none or it is cut short. */
export function decodeImageConfig(buf: Buffer, at = 0): Map<string, ConfigValue> {
    if (!isImageConfig(buf, at)) throw new Error(`no DCFG configuration at 0x${at.toString(16)}`)
    const total = buf.readUInt32LE(at + 8)
    const count = buf.readUInt16LE(at + 12)
    if (at + total > buf.length || HEADER_SIZE + (count + 1) * ENTRY_SIZE > total) throw new Error("DCFG configuration truncated")
    const cfg = buf.subarray(at, at + total)
    const out = new Map<string, ConfigValue>()
    for (let i = 0; i < count; i++) {
        const e = HEADER_SIZE + i * ENTRY_SIZE
        const keyEnd = cfg.indexOf(0, e)
        if (keyEnd < 0 || keyEnd - e > KEY_SIZE) throw new Error(`DCFG entry ${i}: key not terminated`)
        const key = cfg.subarray(e, keyEnd).toString("latin1")
        const typeSize = cfg.readUInt16LE(e + 18)
        const type = typeSize & 3
        const size = typeSize >> 2
        const value = cfg.readUInt32LE(e + 20)
        if (type === TYPE_U32) out.set(key, value)
        else if (type === TYPE_I32) out.set(key, value | 0)
        else {
            if (value + size > cfg.length) throw new Error(`DCFG entry ${key}: data past the end`)
            const data = Buffer.from(cfg.subarray(value, value + size))
            out.set(key, type === TYPE_STRING ? data.toString("utf8") : data)
        }
    }
    return out
}

/** The strings of a board-file array `name: [...]` (keys name + chr(0x80 + i)), in order. */
export function configArray(cfg: Map<string, ConfigValue>, name: string): string[] {
    const out: string[] = []
    for (let i = 0; ; i++) {
        const v = cfg.get(name + String.fromCharCode(ARRAY_BASE + i))
        if (typeof v !== "string") return out
        out.push(v)
    }
}

/** Board-file keys the image's TLS material lives under, as PEM strings (read by the runtime patch, runtime/). */
export const TLS_CA_KEY = "tls.ca"
export const TLS_CERT_KEY = "tls.cert"
export const TLS_KEY_KEY = "tls.key"

export interface ImageTls {
    trustAnchors: string[]
    clientIdentity?: { cert: string; key: string }
}

/** Trust anchors and client identity from a decoded configuration, each certificate checked to parse. */
export function imageTlsFromConfig(cfg: Map<string, ConfigValue>): ImageTls {
    const checked = (pem: string) => {
        new crypto.X509Certificate(pem)
        return pem
    }
    const trustAnchors = configArray(cfg, TLS_CA_KEY).map(checked)
    const chain = configArray(cfg, TLS_CERT_KEY).map(checked)
    const key = cfg.get(TLS_KEY_KEY)
    if (chain.length === 0 && key === undefined) return { trustAnchors }
    if (chain.length === 0 || typeof key !== "string") throw new Error("image configuration: a client certificate needs both tls.cert and tls.key")
    crypto.createPrivateKey(key)
    return { trustAnchors, clientIdentity: { cert: chain.join(""), key } }
}

/** The TLS material of a bundled image file (`npm run build:board`), as a board would boot with it. */
export function readImageTls(imageFile: string): ImageTls {
    return imageTlsFromConfig(decodeImageConfig(fs.readFileSync(imageFile), ESP32_CONFIG_OFFSET))
}
