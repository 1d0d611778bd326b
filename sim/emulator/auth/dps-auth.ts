// Who may open a DPS session: the CONNECT checks of azure-iot-protocol.md sections 1, 2 and 5.
// A password is a SAS token: individual enrollments are matched by registration id first; only
// without one are group keys tried (each device key derived from the group key). No password means
// X.509: the client certificate chain of the TLS handshake decides (dps-x509-auth.ts). A valid
// credential on a disabled enrollment connects: DPS reports `disabled` as the registration result,
// which tells the device why.
import { X509Certificate } from "crypto"
import { CaStore } from "../state/ca-store"
import { EmulatorConfig, Enrollment, SymmetricKeyAttestation, individualEnrollment } from "../config"
import { dpsParseUsername } from "../dps/dps-protocol"
import { dpsAuthenticateX509 } from "./dps-x509-auth"
import { SasKeyName, SasKeys, sasCheckClaims, sasDeriveDeviceKey, sasMatchKey, sasParse } from "./sas"

export interface DpsConnectRequest {
    clientId: string
    username?: string
    password?: Buffer
}

/** How the device proved who it is. */
export type DpsCredential =
    | { kind: "symmetricKey"; key: SasKeyName }
    /** `anchor`: for a group, the CA certificate its chain reached. */
    | { kind: "x509"; leaf: X509Certificate; anchor?: X509Certificate }

export type DpsAuthResult =
    | { ok: true; registrationId: string; apiVersion: string; enrollment: Enrollment; credential: DpsCredential }
    | { ok: false; reason: string }

/** A group device's keys: each derived from the group's key and the registration id. */
export function groupDeviceKeys(attestation: SymmetricKeyAttestation, registrationId: string): SasKeys {
    const { primaryKey, secondaryKey } = attestation
    return {
        primaryKey: sasDeriveDeviceKey(primaryKey!, registrationId),
        secondaryKey: secondaryKey ? sasDeriveDeviceKey(secondaryKey, registrationId) : undefined,
    }
}

/** What a DPS request claims, whether over MQTT (user name, password) or HTTPS (path, query, Authorization). */
export interface DpsClaim {
    idScope: string
    registrationId: string
    apiVersion: string
    /** A SAS token; without one the client certificate decides (X.509). */
    token?: string
}

/** `clientChain`: the certificates the client presented in the TLS handshake, leaf first. */
export function dpsAuthenticate(
    req: DpsConnectRequest,
    clientChain: readonly X509Certificate[],
    config: EmulatorConfig,
    certificates: CaStore,
    now: Date
): DpsAuthResult {
    const user = req.username === undefined ? undefined : dpsParseUsername(req.username)
    if (!user) return { ok: false, reason: "user name is not {idScope}/registrations/{registrationId}/api-version=..." }
    if (req.clientId !== user.registrationId)
        return { ok: false, reason: `client id ${JSON.stringify(req.clientId)} differs from the registration id in the user name` }
    return dpsAuthenticateClaim({ ...user, token: req.password?.toString("utf8") }, clientChain, config, certificates, now)
}

/** The checks every DPS face shares: ID scope, then the SAS token or the client certificate against the enrollments. */
export function dpsAuthenticateClaim(
    user: DpsClaim,
    clientChain: readonly X509Certificate[],
    config: EmulatorConfig,
    certificates: CaStore,
    now: Date
): DpsAuthResult {
    if (user.idScope.toLowerCase() !== config.dps.idScope.toLowerCase()) return { ok: false, reason: `unknown ID scope ${user.idScope}` }
    const ok = (enrollment: Enrollment, credential: DpsCredential): DpsAuthResult => ({
        ok: true,
        registrationId: user.registrationId,
        apiVersion: user.apiVersion,
        enrollment,
        credential,
    })
    if (user.token === undefined) {
        const x = dpsAuthenticateX509(user.registrationId, clientChain, config, certificates, now)
        return x.ok ? ok(x.enrollment, { kind: "x509", leaf: x.leaf, anchor: x.anchor }) : x
    }
    const parsed = sasParse(user.token)
    if (!parsed.ok) return parsed
    const resource = `${user.idScope}/registrations/${user.registrationId}`
    const problem = sasCheckClaims(parsed.token, { resource, skn: "registration", sknOptional: true }, Math.floor(now.getTime() / 1000))
    if (problem) return { ok: false, reason: problem }
    const individual = individualEnrollment(config, user.registrationId)
    if (individual) {
        const att = individual.attestation
        if (att.type !== "symmetricKey")
            return {
                ok: false,
                reason: `individual enrollment ${individual.registrationId} uses X.509 attestation: connect with its certificate and no password`,
            }
        const key = sasMatchKey(parsed.token, att as SasKeys)
        return key ? ok(individual, { kind: "symmetricKey", key }) : { ok: false, reason: "signature does not match the individual enrollment's keys" }
    }
    for (const group of config.enrollments) {
        if (group.kind !== "group" || group.attestation.type !== "symmetricKey") continue
        const key = sasMatchKey(parsed.token, groupDeviceKeys(group.attestation, user.registrationId))
        if (key) return ok(group, { kind: "symmetricKey", key })
    }
    return { ok: false, reason: `no enrollment for registration id ${user.registrationId} (no individual enrollment, no group key signs it)` }
}
