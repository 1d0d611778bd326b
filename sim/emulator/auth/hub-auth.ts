// Who may open an IoT Hub session (azure-iot-protocol.md sections 2, 3 and 5): a hub user name
// for a configured hub, client id = device id, and either a SAS token for `{hub}/devices/{id}`
// signed with the identity's primary or secondary key, or (no password) the client certificate of
// the TLS handshake: CN = device id, valid now, and the identity's thumbprint or a chain to a CA the
// hub trusts. Every failure is one reason (CONNACK 5).
// A token with `skn` is signed with a shared access policy's key instead (the token-service
// pattern): the policy must exist in that hub and hold DeviceConnect.
// A gateway also accepts its own host name as the SAS audience, as edgeHub does.
import { X509Certificate } from "crypto"
import { CaStore } from "../state/ca-store"
import { HubRegistry, DeviceRecord } from "../state/hub-registry"
import { HubUsername, hubParseUsername } from "../hub/hub-protocol"
import { SasKeyName, SasKeys, sasCheckClaims, sasMatchKey, sasParse } from "./sas"
import { SharedAccessPolicy } from "../config"
import { x509BuildChain, x509CommonName, x509MatchesThumbprint, x509Thumbprints, x509ValidityProblem } from "./x509"

export interface HubConnectRequest {
    clientId: string
    username?: string
    password?: Buffer
}

export interface HubAuthContext {
    hubs: readonly string[]
    registry: HubRegistry
    /** DPS's CA certificates: a verified one anchors certificateAuthority devices. */
    certificates: CaStore
    now: Date
    skewSec: number
    /** An IoT Edge gateway's host name, also accepted as SAS audience. */
    gatewayHostName?: string
    /** The shared access policies of a hub (config.ts hubPolicies). */
    policiesOf?: (hub: string) => readonly SharedAccessPolicy[]
}

export type HubAuthResult =
    | {
          ok: true
          device: DeviceRecord
          user: HubUsername
          /** SAS: the key that signed, and when the token (plus skew) expires. */
          key?: SasKeyName
          /** SAS signed with a shared access policy's key: that policy's name. */
          policy?: string
          expiresAtSec?: number
          /** X.509: the SHA-1 thumbprint of the certificate presented. */
          thumbprint?: string
      }
    | { ok: false; reason: string; deviceId?: string }

/** `clientChain`: the certificates the client presented in the TLS handshake, leaf first. */
export function hubAuthenticate(req: HubConnectRequest, clientChain: readonly X509Certificate[], ctx: HubAuthContext): HubAuthResult {
    const user = req.username === undefined ? undefined : hubParseUsername(req.username)
    if (!user) return { ok: false, reason: "user name is neither {hub}/{deviceId}/?api-version=... nor a DPS user name" }
    const deviceId = user.deviceId
    const fail = (reason: string): HubAuthResult => ({ ok: false, reason, deviceId })
    const hub = ctx.hubs.find((h) => h.toLowerCase() === user.hostName.toLowerCase())
    if (!hub) return fail(`unknown hub ${user.hostName}`)
    if (user.moduleId) return fail("module identities are not supported")
    if (req.clientId !== deviceId) return fail(`client id ${JSON.stringify(req.clientId)} differs from the device id in the user name`)
    const identity = (): DeviceRecord | string => {
        const device = ctx.registry.device(deviceId)
        if (!device || device.hub.toLowerCase() !== hub.toLowerCase()) return `device ${deviceId} is not registered in ${hub}`
        if (device.status !== "enabled") return `device ${deviceId} is disabled`
        return device
    }

    if (!req.password) {
        if (clientChain.length === 0) return fail("no SAS token and no client certificate")
        const leaf = clientChain[0]
        const cn = x509CommonName(leaf)
        if (cn !== deviceId) return fail(`certificate CN ${JSON.stringify(cn ?? "")} is not the device id ${JSON.stringify(deviceId)}`)
        const invalid = x509ValidityProblem(leaf, ctx.now)
        if (invalid) return fail(invalid)
        const device = identity()
        if (typeof device === "string") return fail(device)
        const problem = x509Problem(device, clientChain, ctx)
        return problem ? fail(problem) : { ok: true, device, user, thumbprint: x509Thumbprints(leaf).sha1 }
    }

    const parsed = sasParse(req.password.toString("utf8"))
    if (!parsed.ok) return fail(parsed.reason)
    // The audience may carry a port (`localhost:8883/devices/...`); the device id stays case-sensitive.
    const audience = decodeSr(parsed.token.sr)
    const m = audience === undefined ? null : /^([^/]+)\/devices\/([^/]+)$/.exec(audience)
    if (!m) return fail("sr is not {hub}/devices/{deviceId}")
    const srHost = /^(.*?)(?::\d{1,5})?$/.exec(m[1])![1]
    const audiences = [hub, ctx.gatewayHostName].filter((h) => h !== undefined).map((h) => h.toLowerCase())
    if (!audiences.includes(srHost.toLowerCase()) || m[2] !== deviceId) return fail(`sr ${JSON.stringify(audience)} does not name ${hub}/devices/${deviceId}`)
    const skn = parsed.token.skn
    const policy = skn === undefined ? undefined : ctx.policiesOf?.(hub).find((p) => p.keyName === skn)
    if (skn !== undefined && !policy) return fail(`${hub} has no shared access policy ${JSON.stringify(skn)}`)
    if (policy && !policy.rights.includes("DeviceConnect")) return fail(`shared access policy ${policy.keyName} lacks DeviceConnect`)
    const problem = sasCheckClaims(parsed.token, { resource: audience!, skn: skn ?? null }, Math.floor(ctx.now.getTime() / 1000), ctx.skewSec)
    if (problem) return fail(problem)
    const device = identity()
    if (typeof device === "string") return fail(device)
    const auth = device.authentication
    // A DeviceConnect policy speaks for any device of its hub; without one the device's own keys sign.
    if (!policy && auth.type !== "sas") return fail(`device ${deviceId} authenticates with X.509 (${auth.type}), not a SAS token`)
    const keys: SasKeys | undefined = policy ? (policy.primaryKey ? (policy as SasKeys) : undefined) : auth.type === "sas" ? auth.keys : undefined
    const key = keys && sasMatchKey(parsed.token, keys)
    if (!key) return fail(policy ? `signature does not match the keys of policy ${policy.keyName}` : "signature does not match the device's keys")
    return { ok: true, device, user, key, policy: policy?.keyName, expiresAtSec: parsed.token.se + ctx.skewSec }
}

/** Why the presented chain does not authenticate this identity, or undefined when it does. */
function x509Problem(device: DeviceRecord, chain: readonly X509Certificate[], ctx: HubAuthContext): string | undefined {
    const auth = device.authentication
    const leaf = chain[0]
    switch (auth.type) {
        case "sas":
            return `device ${device.deviceId} uses SAS authentication: send a SAS token`
        case "selfSigned": {
            const thumbprints = [auth.primaryThumbprint, auth.secondaryThumbprint].filter((t) => t !== undefined)
            if (thumbprints.some((t) => x509MatchesThumbprint(leaf, t))) return undefined
            return `certificate (SHA-1 ${x509Thumbprints(leaf).sha1}) matches neither thumbprint of device ${device.deviceId}`
        }
        case "certificateAuthority": {
            // The CA DPS validated at assignment, and every CA proven by proof of possession.
            const trusted = [...(auth.ca ? [auth.ca] : []), ...ctx.certificates.verifiedCertificates()]
            const built = x509BuildChain(chain, trusted, ctx.now)
            if (built.ok) return undefined
            return built.unknownIssuer === undefined ? built.reason : `certificate chain does not lead to a CA the hub trusts: ${built.reason}`
        }
    }
}

function decodeSr(sr: string): string | undefined {
    try {
        return decodeURIComponent(sr)
    } catch {
        return undefined
    }
}
