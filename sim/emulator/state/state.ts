// The emulator's one state, shared by its faces: registrations and the DPS operations that lead to
// them (registration ids are case-insensitive, as in DPS), the uploaded CA certificates, and the hubs'
// device identities. Held in memory and written through to the durable store (store.ts) once
// attached: each change goes to the journal, and whoever acknowledges it waits for the store's barrier.
import { CaStore } from "./ca-store"
import { HubRegistry } from "./hub-registry"
import { Journal, NO_JOURNAL } from "./store"

const REGISTRATION_KEY_PREFIX = "registration/"
const OPERATION_KEY_PREFIX = "operation/"

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
    /** How the last assignment came about (initialAssignment, deviceDataMigrated, deviceDataReset, reprovisionedToInitialAssignment). */
    substatus?: string
    /** What a custom allocation webhook returned for the device (`payload` of its answer); DPS sends only this back. */
    returnData?: unknown
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

type StoredOperation = Operation & { seq: number }

// A device that keeps re-registering must not grow the state without bound.
const OPERATIONS_KEPT_PER_REGISTRATION = 4

export class EmulatorState {
    readonly hub: HubRegistry
    readonly certificates = new CaStore()
    private journal: Journal = NO_JOURNAL
    private readonly registrationsById = new Map<string, RegistrationRecord>()
    private readonly operationsById = new Map<string, Operation>()
    private readonly operationsByRegistration = new Map<string, string[]>()
    /** Creation order of operations, kept in their records so a restart keeps each registration's newest. */
    private readonly operationSeqs = new Map<string, number>()
    private operationSeq = 0
    // Injected faults are counted in memory only: a restart serves them again.
    private readonly faultCounts = new Map<string, { throttled: number; serverErrors: number }>()

    constructor(telemetryRetainedBytes: number) {
        this.hub = new HubRegistry(telemetryRetainedBytes)
    }

    /** From now on every change goes to `journal`; what is in memory now is written first (a new store). */
    attach(journal: Journal, writeAll: boolean): void {
        this.journal = this.hub.journal = this.certificates.journal = journal
        if (!writeAll) return
        for (const r of this.registrationsById.values()) this.putRegistration(r)
        for (const op of this.operationsById.values()) this.saveOperation(op)
        this.hub.writeAll()
        this.certificates.writeAll()
    }

    /** Replaces what is in memory with the store's records (entries in key order). */
    restore(entries: [string, unknown][]): void {
        this.registrationsById.clear()
        this.operationsById.clear()
        this.operationsByRegistration.clear()
        this.operationSeqs.clear()
        const ops: StoredOperation[] = []
        for (const [key, value] of entries) {
            if (key.startsWith(REGISTRATION_KEY_PREFIX)) {
                const r = value as RegistrationRecord
                this.registrationsById.set(r.registrationId.toLowerCase(), r)
            } else if (key.startsWith(OPERATION_KEY_PREFIX)) ops.push(value as StoredOperation)
        }
        // Each registration's operations in the order they were made.
        ops.sort((a, b) => a.seq - b.seq)
        for (const { seq, ...op } of ops) {
            const k = op.registrationId.toLowerCase()
            this.operationsById.set(op.operationId, op)
            this.operationSeqs.set(op.operationId, seq)
            this.operationsByRegistration.set(k, [...(this.operationsByRegistration.get(k) ?? []), op.operationId])
        }
        this.operationSeq = ops.at(-1)?.seq ?? 0
        this.hub.restore(entries)
        this.certificates.restore(entries)
    }

    registration(registrationId: string): RegistrationRecord | undefined {
        return this.registrationsById.get(registrationId.toLowerCase())
    }

    registrations(): RegistrationRecord[] {
        return [...this.registrationsById.values()]
    }

    putRegistration(rec: RegistrationRecord): void {
        const key = rec.registrationId.toLowerCase()
        this.registrationsById.set(key, rec)
        this.journal.put(REGISTRATION_KEY_PREFIX + key, () => rec)
    }

    /** Forgets a registration and its operations (DPS's delete registration state): the device registers anew next time. */
    deleteRegistration(registrationId: string): void {
        const key = registrationId.toLowerCase()
        this.registrationsById.delete(key)
        this.journal.del(REGISTRATION_KEY_PREFIX + key)
        for (const op of this.operationsByRegistration.get(key) ?? []) {
            this.operationsById.delete(op)
            this.operationSeqs.delete(op)
            this.journal.del(OPERATION_KEY_PREFIX + op)
        }
        this.operationsByRegistration.delete(key)
    }

    operation(operationId: string): Operation | undefined {
        return this.operationsById.get(operationId)
    }

    addOperation(op: Operation): void {
        const key = op.registrationId.toLowerCase()
        const ids = [...(this.operationsByRegistration.get(key) ?? []), op.operationId]
        while (ids.length > OPERATIONS_KEPT_PER_REGISTRATION) {
            const old = ids.shift()!
            this.operationsById.delete(old)
            this.operationSeqs.delete(old)
            this.journal.del(OPERATION_KEY_PREFIX + old)
        }
        this.operationsByRegistration.set(key, ids)
        this.operationsById.set(op.operationId, op)
        this.operationSeqs.set(op.operationId, ++this.operationSeq)
        this.saveOperation(op)
    }

    /** Records a change to an operation (a poll answered, the result allocated). */
    saveOperation(op: Operation): void {
        const seq = this.operationSeqs.get(op.operationId) ?? 0
        this.journal.put(OPERATION_KEY_PREFIX + op.operationId, (): StoredOperation => ({ ...op, seq }))
    }

    /** How many injected faults a registration has been served so far. */
    faultsServed(registrationId: string): { throttled: number; serverErrors: number } {
        const key = registrationId.toLowerCase()
        let c = this.faultCounts.get(key)
        if (!c) {
            c = { throttled: 0, serverErrors: 0 }
            this.faultCounts.set(key, c)
        }
        return c
    }
}
