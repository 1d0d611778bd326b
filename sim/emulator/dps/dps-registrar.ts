// What DPS answers to register and poll requests of an authenticated device: the
// register -> assigning -> assigned/failed/disabled flow with the enrollment's injected faults,
// allocation across the linked hubs (a custom webhook is called while the device waits) and the
// reprovisioning policy when an assigned device registers again.
import { EmulatorConfig, Enrollment, X509EnrolledCert, enrollmentId } from "../config"
import { CustomDecision, builtInHub, customAllocationDecision, customAllocationFailed, customAllocationRequest } from "./allocation"
import { postAllocationRequest } from "./allocation-webhook"
import { twinNew } from "../state/twin"
import { DpsCredential, groupDeviceKeys } from "../auth/dps-auth"
import { dpsErrorBody, dpsNewEtag, dpsNewOperationId } from "./dps-protocol"
import { DeviceAuthentication } from "../state/hub-registry"
import { EmulatorState, RegistrationRecord } from "../state/state"
import { x509CommonName, x509Thumbprints } from "../auth/x509"

export interface DpsSession {
    registrationId: string
    enrollment: Enrollment
    credential: DpsCredential
}

function thumbprintOf(c: X509EnrolledCert): string {
    return "certificate" in c ? x509Thumbprints(c.certificate).sha1 : c.thumbprint
}

/**
 * The hub identity DPS creates for an assigned device: the keys it signs with (the individual
 * enrollment's, or derived from the group's); the enrollment's certificate thumbprints (individual
 * X.509); or CA authentication that trusts the CA its chain reached here (X.509 group).
 */
function hubAuthentication(e: Enrollment, session: DpsSession): DeviceAuthentication {
    const att = e.attestation
    if (att.type === "symmetricKey") {
        const keys = e.kind === "individual" ? att : groupDeviceKeys(att, session.registrationId)
        return { type: "sas", keys: { primaryKey: keys.primaryKey!, secondaryKey: keys.secondaryKey } }
    }
    if ("primary" in att)
        return { type: "selfSigned", primaryThumbprint: thumbprintOf(att.primary), secondaryThumbprint: att.secondary && thumbprintOf(att.secondary) }
    return { type: "certificateAuthority", ca: session.credential.kind === "x509" ? session.credential.anchor : undefined }
}

export type DpsOutcome =
    | { kind: "assigning" | "assigned" | "failed" | "disabled"; operationId: string; record: RegistrationRecord }
    | { kind: "throttled" | "unavailable" | "rejected"; errorCode: number; message: string }

export interface DpsReply {
    status: number
    body: object
    retryAfter?: number
    outcome: DpsOutcome
}

export class DpsRegistrar {
    /** Custom allocation: the webhook's answers by operation id, and the calls still on their way. */
    private readonly decisions = new Map<string, CustomDecision>()
    private readonly calling = new Set<string>()

    constructor(
        private readonly state: EmulatorState,
        private readonly config: EmulatorConfig
    ) {}

    register(session: DpsSession, body: Buffer, now: Date): DpsReply {
        const request = parseRegisterBody(body)
        if (typeof request === "string") return this.error(400, 400001, request, now)
        if (request.registrationId !== undefined && request.registrationId.toLowerCase() !== session.registrationId.toLowerCase())
            return this.error(400, 400004, "registrationId in the body does not match the connection's registration id", now)
        const faults = session.enrollment.faults
        const served = this.state.faultsServed(session.registrationId)
        if (served.throttled < (faults.throttle ?? 0)) {
            served.throttled++
            return this.error(429, 429001, "Operations are being throttled for this tenant.", now, this.retryAfter(session))
        }
        if (served.serverErrors < (faults.serverError ?? 0)) {
            served.serverErrors++
            const status = faults.serverErrorStatus ?? 503
            return this.error(status, status * 1000, "The service is temporarily unavailable.", now, this.retryAfter(session))
        }
        const previous = this.state.registration(session.registrationId)
        const stamp = now.toISOString()
        const record: RegistrationRecord = {
            registrationId: session.registrationId,
            enrollmentId: enrollmentId(session.enrollment),
            enrollmentGroupId: session.enrollment.kind === "group" ? session.enrollment.enrollmentGroupId : undefined,
            attestationType: session.enrollment.attestation.type,
            status: "assigning",
            // The current assignment stays known while the device registers again (reprovisioning).
            ...(previous?.assignedHub ? { assignedHub: previous.assignedHub, deviceId: previous.deviceId, substatus: previous.substatus } : {}),
            payload: request.payload,
            createdDateTimeUtc: previous?.createdDateTimeUtc ?? stamp,
            lastUpdatedDateTimeUtc: stamp,
            etag: dpsNewEtag(),
        }
        this.state.putRegistration(record)
        const operationId = dpsNewOperationId()
        const pollsLeft = faults.pollsBeforeAssigned ?? 1
        this.state.addOperation({ operationId, registrationId: session.registrationId, pollsLeft })
        if (this.needsWebhook(session.enrollment)) this.callWebhook(operationId, session, record)
        return {
            status: 202,
            body: { operationId, status: "assigning" },
            retryAfter: this.retryAfter(session),
            outcome: { kind: "assigning", operationId, record },
        }
    }

    poll(session: DpsSession, operationId: string | undefined, now: Date): DpsReply {
        const op = operationId === undefined ? undefined : this.state.operation(operationId)
        if (!op || op.registrationId.toLowerCase() !== session.registrationId.toLowerCase()) return this.error(404, 404001, "Operation not found.", now)
        const decision = this.decisions.get(op.operationId)
        const waiting = !op.result && this.needsWebhook(session.enrollment) && !decision
        // A restart loses a call in flight: the next poll makes it again.
        if (waiting && !this.calling.has(op.operationId)) this.callWebhook(op.operationId, session, this.state.registration(session.registrationId)!)
        if (!op.result && (op.pollsLeft > 0 || waiting)) {
            if (op.pollsLeft > 0) op.pollsLeft--
            this.state.saveOperation(op)
            const registrationState = { registrationId: session.registrationId, status: "assigning" }
            const record = this.state.registration(session.registrationId)!
            return {
                status: 202,
                body: { operationId: op.operationId, status: "assigning", registrationState },
                retryAfter: this.retryAfter(session),
                outcome: { kind: "assigning", operationId: op.operationId, record },
            }
        }
        if (!op.result) {
            op.result = this.allocate(session, now, decision)
            this.decisions.delete(op.operationId)
            this.state.saveOperation(op)
        }
        const final = op.result
        const status = final.status as "assigned" | "failed" | "disabled"
        return {
            status: 200,
            body: { operationId: op.operationId, status, registrationState: registrationStateView(final) },
            outcome: { kind: status, operationId: op.operationId, record: final },
        }
    }

    /** Device Registration Status Lookup (REST): the registration's last state, or 404 if it never registered. */
    status(session: DpsSession, now: Date): { status: number; body: object } {
        const record = this.state.registration(session.registrationId)
        if (!record) return { status: 404, body: dpsErrorBody(404000, "Registration not found.", now) }
        return { status: 200, body: registrationStateView(record) }
    }

    /** The answer to every request of a connection whose credentials failed (dps.authFailure "register"). */
    unauthorized(now: Date): DpsReply {
        return this.error(401, 401002, "Unauthorized", now)
    }

    private needsWebhook(e: Enrollment): boolean {
        return e.allocationPolicy === "custom" && e.enabled && !e.faults.failAllocation
    }

    /** Posts the AllocationRequest while the device waits; its answer (or failure) decides at the next poll. */
    private callWebhook(operationId: string, session: DpsSession, record: RegistrationRecord): void {
        const e = session.enrollment
        const request = customAllocationRequest(this.config, e, {
            registrationId: session.registrationId,
            leaf: session.credential.kind === "x509" ? session.credential.leaf : undefined,
            payload: record.payload,
            currentHub: record.assignedHub,
            currentDeviceId: record.deviceId,
        })
        this.calling.add(operationId)
        void postAllocationRequest(e.customAllocationDefinition!.webhookUrl, request, this.config.dps.webhookTimeoutMs).then((answer) => {
            this.calling.delete(operationId)
            this.decisions.set(
                operationId,
                answer.ok ? customAllocationDecision(this.config, e, answer.status, answer.body) : customAllocationFailed(`: ${answer.reason}`)
            )
        })
    }

    /**
     * Allocation: the enrollment decides between assigned, failed and disabled; the hub comes from its
     * policy (or the webhook's `decision`). A device already assigned follows the reprovisioning policy:
     * never re-assign keeps its hub; otherwise the hub is chosen again and the twin moves with the device
     * (migrate) or starts again from the enrollment's initialTwin (reset).
     */
    private allocate(session: DpsSession, now: Date, decision?: CustomDecision): RegistrationRecord {
        const e = session.enrollment
        const record = this.state.registration(session.registrationId)!
        const base = { ...record, lastUpdatedDateTimeUtc: now.toISOString(), etag: dpsNewEtag() }
        const fail = e.faults.failAllocation ?? (decision && !decision.ok ? decision : undefined)
        let done: RegistrationRecord
        if (!e.enabled) done = { ...base, status: "disabled" }
        else if (fail) done = { ...base, status: "failed", errorCode: fail.errorCode, errorMessage: fail.errorMessage }
        else {
            let deviceId = e.kind === "individual" ? e.deviceId : session.registrationId
            // DPS matches the CN to the registration id ignoring case, IoT Hub matches it to the device id
            // exactly: the identity takes the certificate's spelling, so both agree on the same certificate.
            const cn = session.credential.kind === "x509" ? x509CommonName(session.credential.leaf) : undefined
            if (cn && cn.toLowerCase() === deviceId.toLowerCase()) deviceId = cn
            const taken = this.identityTaken(e, deviceId, session.registrationId)
            if (taken) done = { ...base, status: "failed", errorCode: 409000, errorMessage: taken }
            else {
                const existing = this.state.hub.device(deviceId)
                const current = existing && record.assignedHub && record.deviceId === deviceId ? record.assignedHub : undefined
                const p = e.reprovisionPolicy
                const chosen = decision?.ok ? decision.hub : builtInHub(this.config, e, session.registrationId)
                const hub = current && !p.updateHubAssignment ? current : chosen
                const substatus = !current
                    ? "initialAssignment"
                    : !p.updateHubAssignment
                      ? (record.substatus ?? "initialAssignment")
                      : hub.toLowerCase() === current.toLowerCase()
                        ? "reprovisionedToInitialAssignment"
                        : p.migrateDeviceData
                          ? "deviceDataMigrated"
                          : "deviceDataReset"
                const provisionedBy = { registrationId: session.registrationId, enrollmentId: enrollmentId(e) }
                const rec = this.state.hub.assignDevice(deviceId, hub, hubAuthentication(e, session), now, "enabled", provisionedBy)
                const initialDesired = (decision?.ok ? decision.initialTwinDesired : undefined) ?? e.initialTwin?.desired
                const reset = current !== undefined && p.updateHubAssignment && !p.migrateDeviceData
                if (!existing || reset) {
                    // A new identity starts from the initial twin; a reset one too, its versions still moving forward.
                    const old = rec.twin
                    rec.twin = { ...twinNew(), desired: { ...(initialDesired ?? {}) } }
                    if (existing) Object.assign(rec.twin, { desiredVersion: old.desiredVersion + 1, reportedVersion: old.reportedVersion + 1 })
                    this.state.hub.changed(rec)
                }
                const returnData = decision?.ok ? decision.returnData : undefined
                done = { ...base, status: "assigned", deviceId, assignedHub: hub, substatus, returnData }
            }
        }
        this.state.putRegistration(done)
        return done
    }

    /**
     * A group admits any registration id its key derives, so it may not take over an identity it did
     * not create for that same registration: its keys would be replaced by whoever holds the group key.
     * An individual enrollment names its device id on purpose and may adopt an existing identity.
     */
    private identityTaken(e: Enrollment, deviceId: string, registrationId: string): string | undefined {
        const existing = this.state.hub.device(deviceId)
        if (!existing || e.kind === "individual" || existing.provisionedBy?.registrationId.toLowerCase() === registrationId.toLowerCase()) return undefined
        const owner = existing.provisionedBy ? `registration ${existing.provisionedBy.registrationId}` : "the service side"
        return `device ${deviceId} already exists in ${existing.hub}, created by ${owner}; enrollment group ${enrollmentId(e)} cannot take it over`
    }

    private retryAfter(session: DpsSession): number {
        return session.enrollment.faults.retryAfter ?? this.config.dps.retryAfter
    }

    /** `retryAfter` is sent with 429 and 5xx answers, never with other errors. */
    private error(status: number, errorCode: number, message: string, now: Date, retryAfter?: number): DpsReply {
        const kind = status === 429 ? "throttled" : status >= 500 ? "unavailable" : "rejected"
        return { status, body: dpsErrorBody(errorCode, message, now), retryAfter, outcome: { kind, errorCode, message } }
    }
}

/** The `registrationState` object of a final answer, field order as DPS writes it. */
export function registrationStateView(r: RegistrationRecord): object {
    const common = { registrationId: r.registrationId, createdDateTimeUtc: r.createdDateTimeUtc }
    const tail = { lastUpdatedDateTimeUtc: r.lastUpdatedDateTimeUtc, etag: r.etag }
    if (r.status === "failed") return { ...common, status: r.status, errorCode: r.errorCode, errorMessage: r.errorMessage, ...tail }
    if (r.status !== "assigned") return { ...common, status: r.status, ...tail }
    return {
        ...common,
        assignedHub: r.assignedHub,
        deviceId: r.deviceId,
        // A group's result names it under the attestation kind: `symmetricKey` or `x509`.
        ...(r.enrollmentGroupId ? { [r.attestationType]: { enrollmentGroupId: r.enrollmentGroupId } } : {}),
        status: r.status,
        substatus: r.substatus ?? "initialAssignment",
        ...tail,
        // Never the device's own request payload: only a custom allocation's answer (DPS REST reference, DeviceRegistrationResult.payload).
        ...(r.returnData !== undefined ? { payload: r.returnData } : {}),
    }
}

/** `{"registrationId":..., "payload":...}`; an empty body is an empty request. */
function parseRegisterBody(body: Buffer): { registrationId?: string; payload?: unknown } | string {
    const text = body.toString("utf8").trim()
    if (!text) return {}
    let json: any
    try {
        json = JSON.parse(text)
    } catch {
        return "register body is not JSON"
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) return "register body must be a JSON object"
    if (json.registrationId !== undefined && typeof json.registrationId !== "string") return "registrationId must be a string"
    return { registrationId: json.registrationId, payload: json.payload }
}
