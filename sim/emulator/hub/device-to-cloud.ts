// What devices send the hub on their session: telemetry (stored, or handed to the IoT Edge
// gateway in between), twin requests, method responses and C2D acknowledgements.
import type { IPublishPacket } from "mqtt-packet"
import { dpsErrorBody } from "../dps/dps-protocol"
import { Emit } from "../events"
import { hubParseRequestTopic, hubTwinResponseTopic } from "./hub-protocol"
import { HubOutbound } from "./hub-outbound"
import { HubSession, HubSessions } from "./hub-sessions"
import { propertyBagParse } from "./property-bag"
import { DeviceRecord, TelemetryMessage } from "../state/hub-registry"
import { EmulatorState } from "../state/state"
import { JsonObject, twinApplyPatch, twinDocument, twinParsePatch } from "../state/twin"

const UPLINK_DOWN = "the IoT Edge gateway has no connection to the hub"

export class DeviceToCloud {
    constructor(
        private readonly sessions: HubSessions,
        private readonly outbound: HubOutbound,
        private readonly state: EmulatorState,
        private readonly emit: Emit,
        private readonly now: () => Date
    ) {}

    /** Stores a device's message at the hub and reports it (directly, or as a gateway forwards it). */
    ingestTelemetry(device: DeviceRecord, m: Omit<TelemetryMessage, "sequenceNumber">): TelemetryMessage {
        const stored = this.state.hub.addTelemetry(device, m)
        this.emit("hub.telemetry", stored)
        return stored
    }

    onPuback(s: HubSession, messageId: number): void {
        if (this.sessions.isCurrent(s)) this.outbound.completeC2d(s, messageId)
    }

    onPublish(s: HubSession, p: IPublishPacket): void {
        const deviceId = s.device.deviceId
        const req = hubParseRequestTopic(p.topic, deviceId)
        if (!req) return s.conn.close(`publish to unknown topic ${JSON.stringify(p.topic)}`)
        const body = typeof p.payload === "string" ? Buffer.from(p.payload) : p.payload
        const now = this.now()
        const nowUtc = now.toISOString()
        s.device.lastActivityTimeUtc = nowUtc
        // edgeHub without its uplink: twin requests fail and the device retries later (README).
        if ((req.kind === "twin-get" || req.kind === "twin-reported") && !this.sessions.reachable(s))
            return this.twinReply(s, 503, req.rid, JSON.stringify(dpsErrorBody(503000, UPLINK_DOWN, now)))
        switch (req.kind) {
            case "telemetry": {
                const bag = propertyBagParse(req.bag)
                if (!bag.ok) return s.conn.close(bag.reason)
                const m = {
                    deviceId,
                    hub: s.device.hub,
                    properties: bag.properties,
                    systemProperties: bag.systemProperties,
                    body,
                    enqueuedTimeUtc: nowUtc,
                }
                return void (s.gateway ? s.gateway.upstream(m) : this.ingestTelemetry(s.device, m))
            }
            case "twin-get":
                this.emit("hub.twin.get", { deviceId })
                return this.twinReply(s, 200, req.rid, JSON.stringify(twinDocument(s.device.twin)))
            case "twin-reported": {
                const patch = twinParsePatch(body)
                const r =
                    patch === undefined
                        ? ({ ok: false, status: 400, errorCode: 400004, message: "reported patch is not JSON" } as const)
                        : twinApplyPatch(s.device.twin, "reported", patch)
                if (!r.ok) return this.twinReply(s, r.status, req.rid, JSON.stringify(dpsErrorBody(r.errorCode, r.message, now)))
                s.device.twin = r.twin
                this.state.hub.changed(s.device)
                this.emit("hub.twin.reported", { deviceId, patch: patch as JsonObject, version: r.version })
                return this.twinReply(s, 204, req.rid, "", r.version)
            }
            case "method-response":
                return void this.outbound.methods.respond(deviceId, req.rid, req.status, body)
        }
    }

    /** Twin answers go out only on a `$iothub/twin/res/#` subscription, at its QoS. */
    private twinReply(s: HubSession, status: number, rid: string, body: string, version?: number) {
        const sub = this.sessions.subscribed(s, "twin-responses")
        if (sub) s.conn.publish(hubTwinResponseTopic(status, rid, version), body, sub.qos)
    }
}
