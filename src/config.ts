// Device settings, the DeviceScript way: public values in .env.defaults,
// secrets in .env.local, both deployed to the board's settings store.
import { sasDeriveDeviceKey } from "./sas"
import { base64Decode } from "./encoding/base64"
import { DPS_DEFAULT_HOST } from "./dps/provisioning"
import { ConfigError } from "./errors"
import { settingsReadMany } from "./store/settings-read"
import { textTrim } from "./encoding/text"

export interface HostPort {
    host: string
    port: number
}

export interface DeviceConfig {
    idScope: string
    registrationId: string
    /** The individual key, or the one derived from the group key; null for X.509 (the image's client certificate authenticates). */
    deviceKey: string | null
    fromGroupKey: boolean
    dps: HostPort
    time: HostPort
    modelId: string
    sasTtlSec: number
    dpsTimeoutSec: number
    /** Port of the assigned hub: the DPS endpoint's port, as in Azure where both are 8883. */
    hubPort: number
    /** IoT Edge transparent gateway (GATEWAY_HOST) to open TLS to instead of the hub, or null. */
    gateway: HostPort | null
    telemetryIntervalSec: number
    /** Ignore the stored assignment and run DPS. */
    reprovision: boolean
    /** First wait after a definitive refusal (credentials, disabled, failed allocation); doubles up to an hour. */
    refusedRetrySec: number
}

export const MQTT_TLS_PORT = 8883
const HTTPS_PORT = 443

/** "host", "host:port" or "[v6]:port" -> host and port (`defaultPort` when absent). */
export function configParseHostPort(value: string, defaultPort: number): HostPort {
    const text = textTrim(value)
    const colon = text.indexOf(":")
    // One colon: host:port. More (a bare IPv6 address) or none: the whole text is the host.
    if (colon > 0 && text.indexOf(":", colon + 1) < 0) {
        const port = parseInt(text.slice(colon + 1))
        if (!(port >= 1 && port <= 65535) || "" + port !== text.slice(colon + 1)) throw new ConfigError("config: bad port in " + text)
        return { host: text.slice(0, colon), port }
    }
    if (text.length === 0) throw new ConfigError("config: empty host")
    return { host: text, port: defaultPort }
}

/** Longest host name (RFC 1035) or id the device accepts from its settings. */
const MAX_SETTING_TEXT = 200

/** Every setting the firmware reads, asked for in one round at boot. */
const KEYS = [
    "ID_SCOPE",
    "REG_ID",
    "DEVICE_KEY",
    "GROUP_KEY",
    "ATTESTATION",
    "DPS_HOST",
    "TIME_HOST",
    "MODEL_ID",
    "SAS_TTL",
    "DPS_TIMEOUT",
    "GATEWAY_HOST",
    "INTERVAL",
    "REPROVISION",
    "REFUSED_RETRY",
]

/** `values`: the answers to KEYS, in order. */
function text(values: any[], key: string, required: boolean): string {
    const v = values[KEYS.indexOf(key)]
    const t = v === null || v === undefined ? "" : textTrim("" + v)
    if (t === "") {
        if (required) throw new ConfigError("config: setting " + key + " is missing (.env.defaults / .env.local)")
        return ""
    }
    if (t.length > MAX_SETTING_TEXT) throw new ConfigError("config: setting " + key + " is longer than " + MAX_SETTING_TEXT + " characters")
    return t
}

function hostPort(values: any[], key: string, fallback: string, defaultPort: number): HostPort {
    const v = text(values, key, false) || fallback
    if (!v) return null
    try {
        return configParseHostPort(v, defaultPort)
    } catch (e) {
        throw new ConfigError("config: setting " + key + ": " + (e as Error).message.slice("config: ".length))
    }
}

/** A base64 key setting, checked now so a typo stops the device with a line naming it. */
function checkKey(key: string, value: string) {
    try {
        if (value) base64Decode(value)
    } catch (e) {
        throw new ConfigError("config: setting " + key + " is not a base64 key")
    }
}

function isTrue(v: string): boolean {
    return v === "1" || v === "true"
}

function positive(values: any[], key: string, fallback: number): number {
    const v = text(values, key, false)
    if (v === "") return fallback
    const n = parseInt(v)
    if (!(n > 0)) throw new ConfigError("config: setting " + key + " must be a positive number")
    return n
}

export async function configRead(): Promise<DeviceConfig> {
    const values = await settingsReadMany(KEYS)
    const idScope = text(values, "ID_SCOPE", true)
    const registrationId = text(values, "REG_ID", true)
    const deviceKeySetting = text(values, "DEVICE_KEY", false)
    const groupKey = text(values, "GROUP_KEY", false)
    const attestation = text(values, "ATTESTATION", false) || "symmetricKey"
    if (attestation !== "symmetricKey" && attestation !== "x509")
        throw new ConfigError("config: setting ATTESTATION must be symmetricKey or x509, not " + attestation)
    const x509 = attestation === "x509"
    if (x509 && (deviceKeySetting || groupKey))
        throw new ConfigError("config: ATTESTATION=x509 authenticates with the image's client certificate; remove DEVICE_KEY / GROUP_KEY")
    if (!x509 && !deviceKeySetting && !groupKey)
        throw new ConfigError("config: set DEVICE_KEY (individual enrollment) or GROUP_KEY (group enrollment) in .env.local, or ATTESTATION=x509")
    checkKey("DEVICE_KEY", deviceKeySetting)
    checkKey("GROUP_KEY", groupKey)
    const dps = hostPort(values, "DPS_HOST", DPS_DEFAULT_HOST, MQTT_TLS_PORT)
    const time = hostPort(values, "TIME_HOST", dps.host, HTTPS_PORT)
    return {
        idScope,
        registrationId,
        deviceKey: x509 ? null : deviceKeySetting || sasDeriveDeviceKey(groupKey, registrationId),
        fromGroupKey: !x509 && !deviceKeySetting,
        dps,
        time,
        modelId: text(values, "MODEL_ID", false),
        sasTtlSec: positive(values, "SAS_TTL", 3600),
        dpsTimeoutSec: positive(values, "DPS_TIMEOUT", 120),
        hubPort: dps.port,
        gateway: hostPort(values, "GATEWAY_HOST", "", MQTT_TLS_PORT),
        telemetryIntervalSec: positive(values, "INTERVAL", 10),
        reprovision: isTrue(text(values, "REPROVISION", false)),
        refusedRetrySec: positive(values, "REFUSED_RETRY", 60),
    }
}
