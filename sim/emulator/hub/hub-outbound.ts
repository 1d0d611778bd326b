// The hub's way to its devices, which the service side drives: queued C2D messages handed over
// (and completed on PUBACK), desired-property pushes, method requests, and disconnects.
import { Emit } from "../events"
import { HubSubscription, hubC2dTopic, hubDesiredPatchTopic, hubMethodRequestTopic } from "./hub-protocol"
import { HubSession, HubSessions } from "./hub-sessions"
import { MethodCalls } from "./methods"
import { propertyBagBuild } from "./property-bag"
import { HubLink } from "../service/hub-link"
import { JsonObject } from "../state/twin"

export class HubOutbound implements HubLink {
    readonly methods = new MethodCalls()

    constructor(
        private readonly sessions: HubSessions,
        private readonly emit: Emit
    ) {}

    isConnected(deviceId: string): boolean {
        return this.sessions.isConnected(deviceId)
    }

    gatewayOf(deviceId: string): string | undefined {
        return this.sessions.gatewayOf(deviceId)
    }

    /** Disconnects a device now (the service disabled or deleted it). */
    disconnect(deviceId: string, reason: string): void {
        const s = this.sessions.get(deviceId)
        if (s) this.sessions.end(s, reason)
    }

    /** Sends the device's queued C2D messages it has not been handed yet, if it listens for them. */
    deliverC2d(deviceId: string): void {
        const s = this.sessions.get(deviceId)
        const sub = s && this.sessions.subscribed(s, "c2d")
        if (!s || !sub || !this.sessions.reachable(s)) return
        const queue = s.device.c2d
        for (const m of queue.undelivered()) {
            const topic = hubC2dTopic(deviceId, propertyBagBuild(m.systemProperties, m.properties))
            const packetId = s.conn.publish(topic, m.body, sub.qos)
            if (sub.qos === 1 && packetId === undefined) return
            queue.delivered(m, packetId ?? 0)
            this.emit("hub.c2d.sent", { deviceId, messageId: m.messageId, deliveryCount: m.deliveryCount })
            // At QoS 0 there is no acknowledgement to wait for.
            if (sub.qos === 0) this.completeC2d(s, 0)
        }
    }

    /** The device acknowledged the C2D message sent as `packetId`. */
    completeC2d(s: HubSession, packetId: number): void {
        const m = s.device.c2d.complete(packetId)
        if (m) this.emit("hub.c2d.completed", { deviceId: s.device.deviceId, messageId: m.messageId })
    }

    /** Publishes a desired-properties patch to the device if it listens; false otherwise. */
    pushDesired(deviceId: string, patch: JsonObject, version: number): boolean {
        const s = this.sessions.get(deviceId)
        const sub = s && this.sessions.subscribed(s, "twin-desired")
        if (!s || !sub || !this.sessions.reachable(s)) return false
        s.conn.publish(hubDesiredPatchTopic(version), JSON.stringify({ ...patch, $version: version }), sub.qos)
        return true
    }

    /** Whether the device is connected and subscribed for `kind`. */
    listens(deviceId: string, kind: HubSubscription): boolean {
        const s = this.sessions.get(deviceId)
        return !!s && this.sessions.reachable(s) && this.sessions.subscribed(s, kind) !== undefined
    }

    /** Publishes a method request at QoS 0, as IoT Hub does (check listens() first). */
    sendMethodRequest(deviceId: string, methodName: string, rid: string, payload: unknown): void {
        this.sessions.get(deviceId)?.conn.publish(hubMethodRequestTopic(methodName, rid), JSON.stringify(payload ?? null), 0)
    }
}
