// The hubs' device identities and what each device owns: its credentials, status, twin, C2D queue,
// the last telemetry it sent and, for clean=0 sessions, its subscriptions. Device ids are
// case-sensitive, as in IoT Hub.
import type { X509Certificate } from "crypto"
import { C2dQueue } from "./c2d-queue"
import { HubSubscription } from "./hub-protocol"
import { SasKeys } from "./sas"
import { Twin, twinNew } from "./twin"

export const TELEMETRY_KEPT_PER_DEVICE = 1000

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
    telemetry: TelemetryMessage[]
    /** Subscriptions of a clean=0 session, kept across connections (filter -> feature). */
    session?: Map<string, SessionSubscription>
    createdTimeUtc: string
    lastActivityTimeUtc?: string
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
}

export class HubRegistry {
    private readonly devices = new Map<string, DeviceRecord>()
    private sequence = 0

    device(deviceId: string): DeviceRecord | undefined {
        return this.devices.get(deviceId)
    }

    all(): DeviceRecord[] {
        return [...this.devices.values()]
    }

    /** Creates the identity, or updates the credentials and hub of an existing one (its status and twin stay). */
    assignDevice(deviceId: string, hub: string, authentication: DeviceAuthentication, now: Date, status: DeviceStatus = "enabled"): DeviceRecord {
        const existing = this.devices.get(deviceId)
        if (existing) return Object.assign(existing, { hub, authentication })
        const rec: DeviceRecord = {
            deviceId,
            hub,
            authentication,
            status,
            iotEdge: false,
            twin: twinNew(),
            c2d: new C2dQueue(deviceId),
            telemetry: [],
            createdTimeUtc: now.toISOString(),
        }
        this.devices.set(deviceId, rec)
        return rec
    }

    delete(deviceId: string): boolean {
        return this.devices.delete(deviceId)
    }

    /** Stores a device's message (the oldest goes beyond the bound) with the hub's next sequence number. */
    addTelemetry(rec: DeviceRecord, m: Omit<TelemetryMessage, "sequenceNumber">): TelemetryMessage {
        const stored = { ...m, sequenceNumber: ++this.sequence }
        rec.telemetry.push(stored)
        if (rec.telemetry.length > TELEMETRY_KEPT_PER_DEVICE) rec.telemetry.shift()
        rec.lastActivityTimeUtc = m.enqueuedTimeUtc
        return stored
    }
}
