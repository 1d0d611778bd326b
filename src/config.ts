// Device settings, the DeviceScript way: public values in .env.defaults,
// secrets in .env.local, both deployed to the board's settings store.
import { readSetting } from "@devicescript/settings"
import { sasDeriveDeviceKey } from "./sas"
import { DPS_DEFAULT_HOST } from "./dps/provisioning"

export interface HostPort {
    host: string
    port: number
}

export interface DeviceConfig {
    idScope: string
    registrationId: string
    /** The individual key, or the one derived from the group key; null for X.509 (the image's client certificate authenticates). */
    deviceKey: string
    fromGroupKey: boolean
    dps: HostPort
    time: HostPort
    modelId: string
    sasTtlSec: number
    dpsTimeoutSec: number
    /** Port of the assigned hub: the DPS endpoint's port, as in Azure where both are 8883. */
    hubPort: number
    /** IoT Edge transparent gateway (GATEWAY_HOST) to open TLS to instead of the hub, or null. */
    gateway: HostPort
    telemetryIntervalSec: number
    /** Ignore the stored assignment and run DPS. */
    reprovision: boolean
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
            throw new Error("config: bad port in " + text)
        return { host: text.slice(0, colon), port }
    }
    if (text.length === 0) throw new Error("config: empty host")
    return { host: text, port: defaultPort }
}

async function text(key: string, required: boolean): Promise<string> {
    const v = await readSetting<any>(key, null)
    if (v === null || v === undefined || ("" + v).trim() === "") {
        if (required) throw new Error("config: setting " + key + " is missing (.env.defaults / .env.local)")
        return ""
    }
    return ("" + v).trim()
}

function isTrue(v: string): boolean {
    return v === "1" || v === "true"
}

async function positive(key: string, fallback: number): Promise<number> {
    const v = await text(key, false)
    if (v === "") return fallback
    const n = parseInt(v)
    if (!(n > 0)) throw new Error("config: setting " + key + " must be a positive number")
    return n
}

async function gatewaySetting(): Promise<HostPort> {
    const v = await text("GATEWAY_HOST", false)
    return v ? configParseHostPort(v, MQTT_TLS_PORT) : null
}

export async function configRead(): Promise<DeviceConfig> {
    const idScope = await text("ID_SCOPE", true)
    const registrationId = await text("REG_ID", true)
    const deviceKeySetting = await text("DEVICE_KEY", false)
    const groupKey = await text("GROUP_KEY", false)
    const attestation = (await text("ATTESTATION", false)) || "symmetricKey"
    if (attestation !== "symmetricKey" && attestation !== "x509")
        throw new Error("config: ATTESTATION must be symmetricKey or x509, not " + attestation)
    const x509 = attestation === "x509"
    if (x509 && (deviceKeySetting || groupKey))
        throw new Error("config: ATTESTATION=x509 authenticates with the image's client certificate; remove DEVICE_KEY / GROUP_KEY")
    if (!x509 && !deviceKeySetting && !groupKey)
        throw new Error("config: set DEVICE_KEY (individual enrollment) or GROUP_KEY (group enrollment) in .env.local, or ATTESTATION=x509")
    const dps = configParseHostPort((await text("DPS_HOST", false)) || DPS_DEFAULT_HOST, MQTT_TLS_PORT)
    const timeSetting = await text("TIME_HOST", false)
    const time = timeSetting ? configParseHostPort(timeSetting, HTTPS_PORT) : { host: dps.host, port: HTTPS_PORT }
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
        gateway: await gatewaySetting(),
        telemetryIntervalSec: await positive("INTERVAL", 10),
        reprovision: isTrue(await text("REPROVISION", false)),
    }
}
