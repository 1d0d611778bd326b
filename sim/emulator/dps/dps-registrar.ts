// What DPS answers to register and poll requests of an authenticated device: the
// register -> assigning -> assigned/failed/disabled flow with the enrollment's injected faults.
import { Enrollment, X509EnrolledCert, enrollmentId } from "../config"
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
    constructor(
        private readonly state: EmulatorState,
        private readonly defaultRetryAfter: number
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
            payload: request.payload,
            createdDateTimeUtc: previous?.createdDateTimeUtc ?? stamp,
            lastUpdatedDateTimeUtc: stamp,
            etag: dpsNewEtag(),
        }
        this.state.putRegistration(record)
        const operationId = dpsNewOperationId()
        const pollsLeft = faults.pollsBeforeAssigned ?? 1
        this.state.addOperation({ operationId, registrationId: session.registrationId, pollsLeft })
        return {
            status: 202,
            body: { operationId, status: "assigning" },
            retryAfter: this.retryAfter(session),
            outcome: { kind: "assigning", operationId, record },
        }
    }

    poll(session: DpsSession, operationId: string | undefined, now: Date): DpsReply {
        const op = operationId === undefined ? undefined : this.state.operation(operationId)
        if (!op || op.registrationId.toLowerCase() !== session.registrationId.toLowerCase())
            return this.error(404, 404001, "Operation not found.", now)
        if (!op.result && op.pollsLeft > 0) {
            op.pollsLeft--
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
            op.result = this.allocate(session, now)
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

    /** Allocation: the enrollment decides between assigned, failed and disabled. */
    private allocate(session: DpsSession, now: Date): RegistrationRecord {
        const e = session.enrollment
        const record = this.state.registration(session.registrationId)!
        const base = { ...record, lastUpdatedDateTimeUtc: now.toISOString(), etag: dpsNewEtag() }
        const fail = e.faults.failAllocation
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
                done = { ...base, status: "assigned", deviceId, assignedHub: e.iotHubHostName }
                const provisionedBy = { registrationId: session.registrationId, enrollmentId: enrollmentId(e) }
                this.state.hub.assignDevice(deviceId, e.iotHubHostName, hubAuthentication(e, session), now, "enabled", provisionedBy)
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
        return session.enrollment.faults.retryAfter ?? this.defaultRetryAfter
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
    if (r.status === "failed")
        return { ...common, status: r.status, errorCode: r.errorCode, errorMessage: r.errorMessage, ...tail }
    if (r.status !== "assigned") return { ...common, status: r.status, ...tail }
    return {
        ...common,
        assignedHub: r.assignedHub,
        deviceId: r.deviceId,
        // A group's result names it under the attestation kind: `symmetricKey` or `x509`.
        ...(r.enrollmentGroupId ? { [r.attestationType]: { enrollmentGroupId: r.enrollmentGroupId } } : {}),
        status: r.status,
        substatus: "initialAssignment",
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
