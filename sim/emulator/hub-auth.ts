// Who may open an IoT Hub session (azure-iot-protocol.md sections 2 and 3): a hub user name
// for a configured hub, client id = device id, and a SAS token for `{hub}/devices/{id}` signed
// with the identity's primary or secondary key. Every failure is one reason (CONNACK 5).
// A gateway also accepts its own host name as the audience, as edgeHub does.
import { HubRegistry, DeviceRecord } from "./hub-registry"
import { HubUsername, hubParseUsername } from "./hub-protocol"
import { SasKeyName, sasCheckClaims, sasMatchKey, sasParse } from "./sas"

export interface HubConnectRequest {
    clientId: string
    username?: string
    password?: Buffer
}

export type HubAuthResult =
    | { ok: true; device: DeviceRecord; user: HubUsername; key: SasKeyName; expiresAtSec: number }
    | { ok: false; reason: string; deviceId?: string }

export function hubAuthenticate(
    req: HubConnectRequest,
    hubs: readonly string[],
    registry: HubRegistry,
    nowSec: number,
    skewSec: number,
    gatewayHostName?: string
): HubAuthResult {
    const user = req.username === undefined ? undefined : hubParseUsername(req.username)
    if (!user) return { ok: false, reason: "user name is neither {hub}/{deviceId}/?api-version=... nor a DPS user name" }
    const deviceId = user.deviceId
    const fail = (reason: string): HubAuthResult => ({ ok: false, reason, deviceId })
    const hub = hubs.find((h) => h.toLowerCase() === user.hostName.toLowerCase())
    if (!hub) return fail(`unknown hub ${user.hostName}`)
    if (user.moduleId) return fail("module identities are not supported")
    if (req.clientId !== deviceId) return fail(`client id ${JSON.stringify(req.clientId)} differs from the device id in the user name`)
    if (!req.password) return fail("no SAS token (X.509 device authentication is not supported)")
    const parsed = sasParse(req.password.toString("utf8"))
    if (!parsed.ok) return fail(parsed.reason)
    // The audience may carry a port (`localhost:8883/devices/...`); the device id stays case-sensitive.
    const audience = decodeSr(parsed.token.sr)
    const m = audience === undefined ? null : /^([^/]+)\/devices\/([^/]+)$/.exec(audience)
    if (!m) return fail("sr is not {hub}/devices/{deviceId}")
    const srHost = /^(.*?)(?::\d{1,5})?$/.exec(m[1])![1]
    const audiences = [hub, gatewayHostName].filter((h) => h !== undefined).map((h) => h.toLowerCase())
    if (!audiences.includes(srHost.toLowerCase()) || m[2] !== deviceId) return fail(`sr ${JSON.stringify(audience)} does not name ${hub}/devices/${deviceId}`)
    const problem = sasCheckClaims(parsed.token, { resource: audience!, skn: null }, nowSec, skewSec)
    if (problem) return fail(problem)
    const device = registry.device(deviceId)
    if (!device || device.hub.toLowerCase() !== hub.toLowerCase()) return fail(`device ${deviceId} is not registered in ${hub}`)
    if (device.status !== "enabled") return fail(`device ${deviceId} is disabled`)
    const key = sasMatchKey(parsed.token, device.keys)
    if (!key) return fail("signature does not match the device's keys")
    return { ok: true, device, user, key, expiresAtSec: parsed.token.se + skewSec }
}

function decodeSr(sr: string): string | undefined {
    try {
        return decodeURIComponent(sr)
    } catch {
        return undefined
    }
}
