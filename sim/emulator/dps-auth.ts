// Who may open a DPS session: the CONNECT checks of azure-iot-protocol.md sections 1 and 2.
// Individual enrollments are matched by registration id first; only without one are group
// keys tried (each device key derived from the group key). A valid key on a disabled enrollment
// connects: DPS reports `disabled` as the registration result, which tells the device why.
import { EmulatorConfig, Enrollment, GroupEnrollment, IndividualEnrollment } from "./config"
import { dpsParseUsername } from "./dps-protocol"
import { SasKeyName, SasKeys, sasCheckClaims, sasDeriveDeviceKey, sasMatchKey, sasParse } from "./sas"

export interface DpsConnectRequest {
    clientId: string
    username?: string
    password?: Buffer
}

export type DpsAuthResult =
    | { ok: true; registrationId: string; apiVersion: string; enrollment: Enrollment; key: SasKeyName }
    | { ok: false; reason: string }

function findIndividual(config: EmulatorConfig, registrationId: string): IndividualEnrollment | undefined {
    const id = registrationId.toLowerCase()
    return config.enrollments.find((e): e is IndividualEnrollment => e.kind === "individual" && e.registrationId.toLowerCase() === id)
}

/** A group device's keys: each derived from the group's key and the registration id. */
export function groupDeviceKeys(group: GroupEnrollment, registrationId: string): SasKeys {
    const { primaryKey, secondaryKey } = group.attestation
    return {
        primaryKey: sasDeriveDeviceKey(primaryKey!, registrationId),
        secondaryKey: secondaryKey ? sasDeriveDeviceKey(secondaryKey, registrationId) : undefined,
    }
}

export function dpsAuthenticate(req: DpsConnectRequest, config: EmulatorConfig, nowSec: number): DpsAuthResult {
    const user = req.username === undefined ? undefined : dpsParseUsername(req.username)
    if (!user) return { ok: false, reason: "user name is not {idScope}/registrations/{registrationId}/api-version=..." }
    if (req.clientId !== user.registrationId)
        return { ok: false, reason: `client id ${JSON.stringify(req.clientId)} differs from the registration id in the user name` }
    if (user.idScope.toLowerCase() !== config.dps.idScope.toLowerCase()) return { ok: false, reason: `unknown ID scope ${user.idScope}` }
    if (!req.password) return { ok: false, reason: "no SAS token (X.509 attestation is not supported yet)" }
    const parsed = sasParse(req.password.toString("utf8"))
    if (!parsed.ok) return parsed
    const resource = `${user.idScope}/registrations/${user.registrationId}`
    const problem = sasCheckClaims(parsed.token, { resource, skn: "registration" }, nowSec)
    if (problem) return { ok: false, reason: problem }
    const ok = (enrollment: Enrollment, key: SasKeyName): DpsAuthResult => ({
        ok: true,
        registrationId: user.registrationId,
        apiVersion: user.apiVersion,
        enrollment,
        key,
    })
    const individual = findIndividual(config, user.registrationId)
    if (individual) {
        const key = sasMatchKey(parsed.token, individual.attestation as SasKeys)
        return key ? ok(individual, key) : { ok: false, reason: "signature does not match the individual enrollment's keys" }
    }
    for (const group of config.enrollments) {
        if (group.kind !== "group") continue
        const key = sasMatchKey(parsed.token, groupDeviceKeys(group, user.registrationId))
        if (key) return ok(group, key)
    }
    return { ok: false, reason: `no enrollment for registration id ${user.registrationId} (no individual enrollment, no group key signs it)` }
}
