// The emulator's one in-memory state, shared by its faces: registrations and the DPS
// operations that lead to them (registration ids are case-insensitive, as in DPS), the
// uploaded CA certificates, and the hubs' device identities.
import { CaStore } from "./ca-store"
import { HubRegistry } from "./hub-registry"

export type RegistrationStatus = "assigning" | "assigned" | "failed" | "disabled"

export interface RegistrationRecord {
    registrationId: string
    /** The enrollment that admitted the device: its registrationId or enrollmentGroupId. */
    enrollmentId: string
    enrollmentGroupId?: string
    /** How the enrollment attests devices; a group's assigned result names it. */
    attestationType: "symmetricKey" | "x509"
    status: RegistrationStatus
    deviceId?: string
    assignedHub?: string
    /** The custom payload of the last register request (IoT Plug and Play puts `modelId` here). */
    payload?: unknown
    errorCode?: number
    errorMessage?: string
    createdDateTimeUtc: string
    lastUpdatedDateTimeUtc: string
    etag: string
}

export interface Operation {
    operationId: string
    registrationId: string
    /** Polls still to answer 202 `assigning`. */
    pollsLeft: number
    /** The final registration state once allocated; later polls repeat it. */
    result?: RegistrationRecord
}

// A device that keeps re-registering must not grow the state without bound.
const OPERATIONS_KEPT_PER_REGISTRATION = 4

export class EmulatorState {
    readonly hub = new HubRegistry()
    readonly certificates = new CaStore()
    private readonly registrationsById = new Map<string, RegistrationRecord>()
    private readonly operationsById = new Map<string, Operation>()
    private readonly operationsByRegistration = new Map<string, string[]>()
    private readonly faultCounts = new Map<string, { throttled: number; serverErrors: number }>()

    registration(registrationId: string): RegistrationRecord | undefined {
        return this.registrationsById.get(registrationId.toLowerCase())
    }

    registrations(): RegistrationRecord[] {
        return [...this.registrationsById.values()]
    }

    putRegistration(rec: RegistrationRecord): void {
        this.registrationsById.set(rec.registrationId.toLowerCase(), rec)
    }

    operation(operationId: string): Operation | undefined {
        return this.operationsById.get(operationId)
    }

    addOperation(op: Operation): void {
        const key = op.registrationId.toLowerCase()
        const ids = [...(this.operationsByRegistration.get(key) ?? []), op.operationId]
        while (ids.length > OPERATIONS_KEPT_PER_REGISTRATION) this.operationsById.delete(ids.shift()!)
        this.operationsByRegistration.set(key, ids)
        this.operationsById.set(op.operationId, op)
    }

    /** How many injected faults a registration has been served so far. */
    faultsServed(registrationId: string): { throttled: number; serverErrors: number } {
        const key = registrationId.toLowerCase()
        let c = this.faultCounts.get(key)
        if (!c) this.faultCounts.set(key, (c = { throttled: 0, serverErrors: 0 }))
        return c
    }
}
