// The hubs' device identities and what each device owns: its credentials, status, twin, C2D queue
// and, for clean=0 sessions, its subscriptions; and the telemetry the hubs keep (one bounded log).
// Device ids are case-sensitive, as in IoT Hub. Every change is written to the journal: one
// record per identity (`device/<id>`), whose C2D messages are records of their own.
import { X509Certificate } from "crypto"
import { C2D_KEY_PREFIX, C2dQueue, StoredC2dMessage, c2dKeyDevice } from "./c2d-queue"
import { HubSubscription } from "../hub/hub-protocol"
import { SasKeys } from "../auth/sas"
import { Journal, NO_JOURNAL } from "./store"
import { StoredTelemetry, TELEMETRY_KEY_PREFIX, TELEMETRY_SEQUENCE_KEY, TelemetryLog } from "./telemetry-log"
import { Twin, twinNew } from "./twin"

const DEVICE_KEY_PREFIX = "device/"

export type DeviceStatus = "enabled" | "disabled"

/** One subscription of a device session: the feature it asks for and the QoS granted. */
export interface SessionSubscription {
    kind: HubSubscription
    qos: 0 | 1
}

export interface TelemetryMessage {
    deviceId: string
    hub: string
    properties: Record<string, string>
    systemProperties: Record<string, string>
    body: Buffer
    enqueuedTimeUtc: string
    sequenceNumber: number
    /** The IoT Edge gateway the message came through. */
    via?: string
}

/** How a device authenticates to its hub, as IoT Hub's device identity says it. */
export type DeviceAuthentication =
    | { type: "sas"; keys: SasKeys }
    /** Thumbprints (upper hex, SHA-1 or SHA-256) of the device's own certificates. */
    | { type: "selfSigned"; primaryThumbprint: string; secondaryThumbprint?: string }
    /**
     * A certificate whose chain reaches a verified CA of DPS, or `ca`: the CA DPS validated the device's
     * chain to when it assigned the device (an intermediate of a group enrollment needs no verification).
     */
    | { type: "certificateAuthority"; ca?: X509Certificate }

export type DeviceAuthenticationType = DeviceAuthentication["type"]

export interface DeviceRecord {
    deviceId: string
    /** The hub host name the identity lives in. */
    hub: string
    authentication: DeviceAuthentication
    status: DeviceStatus
    /** An IoT Edge device (a gateway others may be children of). */
    iotEdge: boolean
    /** The edge device this one is a child of: only that gateway admits it. */
    parent?: string
    twin: Twin
    c2d: C2dQueue
    /** The DPS registration that created or last updated the identity (absent: made by the config or the service side). */
    provisionedBy?: { registrationId: string; enrollmentId: string }
    /** Subscriptions of a clean=0 session, kept across connections (filter -> feature). */
    session?: Map<string, SessionSubscription>
    createdTimeUtc: string
    lastActivityTimeUtc?: string
    /** When the device last connected or disconnected (IoT Hub's connectionStateUpdatedTime); kept across restarts. */
    connectionStateUpdatedTimeUtc?: string
}

/** What the service side may see of an identity: never its keys. */
export interface DeviceView {
    deviceId: string
    hub: string
    /** `sas`, `selfSigned` (thumbprints) or `certificateAuthority`, as IoT Hub shows it. */
    authenticationType: DeviceAuthenticationType
    status: DeviceStatus
    iotEdge: boolean
    parent?: string
    connectionState: "Connected" | "Disconnected"
    cloudToDeviceMessageCount: number
    createdTimeUtc: string
    lastActivityTimeUtc?: string
    connectionStateUpdatedTimeUtc?: string
}

/** An identity as the store keeps it: no queue (its messages are records of their own), CA as PEM, subscriptions as pairs. */
type StoredDevice = Omit<DeviceRecord, "c2d" | "session" | "authentication"> & {
    authentication: Exclude<DeviceAuthentication, { type: "certificateAuthority" }> | { type: "certificateAuthority"; ca?: string }
    session?: [string, SessionSubscription][]
}

function encodeDevice(d: DeviceRecord): StoredDevice {
    const { c2d: _queue, session, authentication: a, ...rest } = d
    const authentication = a.type === "certificateAuthority" ? { type: a.type, ca: a.ca?.toString() } : a
    return { ...rest, authentication, session: session && [...session] }
}

export class HubRegistry {
    private readonly devices = new Map<string, DeviceRecord>()
    readonly telemetry: TelemetryLog
    journal: Journal = NO_JOURNAL

    constructor(telemetryRetainedBytes: number) {
        this.telemetry = new TelemetryLog(telemetryRetainedBytes, () => this.journal)
    }

    device(deviceId: string): DeviceRecord | undefined {
        return this.devices.get(deviceId)
    }

    all(): DeviceRecord[] {
        return [...this.devices.values()]
    }

    /** Creates the identity, or updates the credentials and hub of an existing one (its status and twin stay). */
    assignDevice(
        deviceId: string,
        hub: string,
        authentication: DeviceAuthentication,
        now: Date,
        status: DeviceStatus = "enabled",
        provisionedBy?: DeviceRecord["provisionedBy"]
    ): DeviceRecord {
        const existing = this.devices.get(deviceId)
        if (existing) return this.changed(Object.assign(existing, { hub, authentication, provisionedBy }))
        const rec: DeviceRecord = {
            deviceId,
            hub,
            authentication,
            status,
            iotEdge: false,
            twin: twinNew(),
            c2d: new C2dQueue(deviceId, () => this.journal),
            provisionedBy,
            createdTimeUtc: now.toISOString(),
        }
        this.devices.set(deviceId, rec)
        return this.changed(rec)
    }

    /** Records a change to an identity (status, parent, twin, session): written with the next commit. */
    changed(rec: DeviceRecord): DeviceRecord {
        this.journal.put(DEVICE_KEY_PREFIX + rec.deviceId, () => encodeDevice(rec))
        return rec
    }

    delete(deviceId: string): boolean {
        const rec = this.devices.get(deviceId)
        if (!rec) return false
        rec.c2d.drop()
        this.devices.delete(deviceId)
        this.journal.del(DEVICE_KEY_PREFIX + deviceId)
        return true
    }

    /** Keeps a device's message (the oldest in the log go beyond its bound) with the hub's next sequence number. */
    addTelemetry(rec: DeviceRecord, m: Omit<TelemetryMessage, "sequenceNumber">): TelemetryMessage {
        rec.lastActivityTimeUtc = m.enqueuedTimeUtc
        return this.telemetry.add(m)
    }

    /** Writes every identity, message and queued C2D message to the journal (a new store). */
    writeAll(): void {
        for (const rec of this.devices.values()) {
            this.changed(rec)
            rec.c2d.rewrite()
        }
        this.telemetry.rewrite()
    }

    /** Replaces what is in memory with the store's records (entries in key order). */
    restore(entries: [string, unknown][]): void {
        this.devices.clear()
        const telemetry: StoredTelemetry[] = []
        let sequence = 0
        for (const [key, value] of entries) {
            if (key.startsWith(DEVICE_KEY_PREFIX)) {
                const d = value as StoredDevice
                const a = d.authentication
                const authentication: DeviceAuthentication =
                    a.type === "certificateAuthority" ? { type: a.type, ca: a.ca === undefined ? undefined : new X509Certificate(a.ca) } : a
                const session = d.session && new Map(d.session)
                this.devices.set(d.deviceId, { ...d, authentication, session, c2d: new C2dQueue(d.deviceId, () => this.journal) })
            } else if (key.startsWith(TELEMETRY_KEY_PREFIX)) telemetry.push(value as StoredTelemetry)
            else if (key === TELEMETRY_SEQUENCE_KEY) sequence = value as number
        }
        // C2D records sort before their devices' ("c2d/" < "device/"): a second pass finds the queues.
        for (const [key, value] of entries) if (key.startsWith(C2D_KEY_PREFIX)) this.devices.get(c2dKeyDevice(key))?.c2d.restore(value as StoredC2dMessage)
        this.telemetry.restore(telemetry, sequence)
    }
}
