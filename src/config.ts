// Device settings, the DeviceScript way: public values in .env.defaults,
// secrets in .env.local, both deployed to the board's settings store.
import { readSetting } from "@devicescript/settings"
import { sasDeriveDeviceKey } from "./sas"
import { base64Decode } from "./encoding/base64"
import { DPS_DEFAULT_HOST } from "./dps/provisioning"
import { ConfigError } from "./errors"

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
    const text = value.trim()
    const colon = text.lastIndexOf(":")
    if (colon > 0 && text.indexOf(":") === colon) {
        const port = parseInt(text.slice(colon + 1))
        if (!(port >= 1 && port <= 65535) || "" + port !== text.slice(colon + 1))
            throw new ConfigError("config: bad port in " + text)
        return { host: text.slice(0, colon), port }
    }
    if (text.length === 0) throw new ConfigError("config: empty host")
    return { host: text, port: defaultPort }
}

/** Longest host name (RFC 1035) or id the device accepts from its settings. */
const MAX_SETTING_TEXT = 200

async function text(key: string, required: boolean): Promise<string> {
    const v = await readSetting<any>(key, null)
    if (v === null || v === undefined || ("" + v).trim() === "") {
        if (required) throw new ConfigError("config: setting " + key + " is missing (.env.defaults / .env.local)")
        return ""
    }
    const t = ("" + v).trim()
    if (t.length > MAX_SETTING_TEXT) throw new ConfigError("config: setting " + key + " is longer than " + MAX_SETTING_TEXT + " characters")
    return t
}

async function hostPort(key: string, fallback: string, defaultPort: number): Promise<HostPort> {
    const v = (await text(key, false)) || fallback
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

async function positive(key: string, fallback: number): Promise<number> {
    const v = await text(key, false)
    if (v === "") return fallback
    const n = parseInt(v)
    if (!(n > 0)) throw new ConfigError("config: setting " + key + " must be a positive number")
    return n
}

export async function configRead(): Promise<DeviceConfig> {
    const idScope = await text("ID_SCOPE", true)
    const registrationId = await text("REG_ID", true)
    const deviceKeySetting = await text("DEVICE_KEY", false)
    const groupKey = await text("GROUP_KEY", false)
    const attestation = (await text("ATTESTATION", false)) || "symmetricKey"
    if (attestation !== "symmetricKey" && attestation !== "x509")
        throw new ConfigError("config: setting ATTESTATION must be symmetricKey or x509, not " + attestation)
    const x509 = attestation === "x509"
    if (x509 && (deviceKeySetting || groupKey))
        throw new ConfigError("config: ATTESTATION=x509 authenticates with the image's client certificate; remove DEVICE_KEY / GROUP_KEY")
    if (!x509 && !deviceKeySetting && !groupKey)
        throw new ConfigError("config: set DEVICE_KEY (individual enrollment) or GROUP_KEY (group enrollment) in .env.local, or ATTESTATION=x509")
    checkKey("DEVICE_KEY", deviceKeySetting)
    checkKey("GROUP_KEY", groupKey)
    const dps = await hostPort("DPS_HOST", DPS_DEFAULT_HOST, MQTT_TLS_PORT)
    const time = await hostPort("TIME_HOST", dps.host, HTTPS_PORT)
    return {
        idScope,
        registrationId,
        deviceKey: x509 ? null : deviceKeySetting || sasDeriveDeviceKey(groupKey, registrationId),
        fromGroupKey: !x509 && !deviceKeySetting,
        dps,
        time,
        modelId: await text("MODEL_ID", false),
        sasTtlSec: await positive("SAS_TTL", 3600),
        dpsTimeoutSec: await positive("DPS_TIMEOUT", 120),
        hubPort: dps.port,
        gateway: await hostPort("GATEWAY_HOST", "", MQTT_TLS_PORT),
        telemetryIntervalSec: await positive("INTERVAL", 10),
        reprovision: isTrue(await text("REPROVISION", false)),
        refusedRetrySec: await positive("REFUSED_RETRY", 60),
    }
}
