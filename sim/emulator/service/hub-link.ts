// What the service side needs of the device faces, so it depends on these and not on the faces:
// the hub's way to its devices (hub/hub-outbound.ts) and each IoT Edge gateway's uplink switch.
import type { HubSubscription } from "../hub/hub-protocol"
import type { MethodCalls } from "../hub/methods"
import type { JsonObject } from "../state/twin"

export interface HubLink {
    /** The direct-method calls waiting for a device's answer. */
    readonly methods: MethodCalls
    /** Connected as the hub sees it: directly, or through a gateway whose uplink is up. */
    isConnected(deviceId: string): boolean
    /** The edge device a connected device's session goes through, if any. */
    gatewayOf(deviceId: string): string | undefined
    disconnect(deviceId: string, reason: string): void
    /** Hands the device its queued C2D messages, if it listens for them. */
    deliverC2d(deviceId: string): void
    /** Publishes a desired-properties patch if the device listens; false otherwise. */
    pushDesired(deviceId: string, patch: JsonObject, version: number): boolean
    listens(deviceId: string, kind: HubSubscription): boolean
    sendMethodRequest(deviceId: string, methodName: string, rid: string, payload: unknown): void
}

/** An emulated IoT Edge gateway's connection to its hub. */
export interface EdgeUplink {
    readonly uplinkUp: boolean
    setUplink(up: boolean): void
}
