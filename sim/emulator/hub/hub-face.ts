// The IoT Hub face: admits device connections (hub-auth), keeps one session per device, and
// serves telemetry, twin requests, method responses and C2D acknowledgements on it. The
// service side (service.ts) reaches devices through deliverC2d, pushDesired and sendMethodRequest.
// Leaves behind an IoT Edge gateway (edge/edge-face.ts) get the same sessions, with the gateway in
// between: their telemetry goes to its store and forward, the rest needs its uplink.
import type { IConnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket } from "mqtt-packet"
import { EmulatorConfig, hubPolicies } from "../config"
import { dpsErrorBody } from "../dps/dps-protocol"
import { Emit } from "../events"
import { HubAuthResult, hubAuthenticate } from "../auth/hub-auth"
import {
    HUB_MAX_SUBSCRIPTIONS,
    HubSubscription,
    hubC2dTopic,
    hubDesiredPatchTopic,
    hubMethodRequestTopic,
    hubParseRequestTopic,
    hubSubscriptionKind,
    hubTwinResponseTopic,
} from "./hub-protocol"
import { DeviceRecord, SessionSubscription, TelemetryMessage } from "../state/hub-registry"
import { MethodCalls } from "./methods"
import { CONNACK_NOT_AUTHORIZED, MqttConnection } from "../transport/mqtt-connection"
import { MqttFace } from "../transport/mqtt-router"
import { propertyBagBuild, propertyBagParse } from "./property-bag"
import { EmulatorState } from "../state/state"
import { JsonObject, twinApplyPatch, twinDocument, twinParsePatch } from "../state/twin"

const SUBACK_FAILURE = 0x80
// setTimeout's limit; a token valid for longer than ~24 days is re-armed by reconnecting anyway.
const MAX_TIMER_MS = 2 ** 31 - 1

/** The IoT Edge gateway a leaf's session goes through, as the hub face sees it. */
export interface HubGateway {
    readonly edgeId: string
    /** Twin requests, desired pushes, methods and C2D need the uplink to the hub. */
    readonly uplinkUp: boolean
    /** Takes a leaf's telemetry (already acknowledged to the leaf) to forward or store. */
    upstream(m: Omit<TelemetryMessage, "sequenceNumber">): void
}

interface HubSession {
    conn: MqttConnection
    device: DeviceRecord
    subscriptions: Map<string, SessionSubscription>
    gateway?: HubGateway
    expiry?: NodeJS.Timeout
}

const UPLINK_DOWN = "the IoT Edge gateway has no connection to the hub"

export class HubFace implements MqttFace {
    readonly name = "hub"
    readonly methods = new MethodCalls()
    private readonly sessions = new Map<string, HubSession>()

    constructor(
        private readonly config: EmulatorConfig,
        private readonly state: EmulatorState,
        private readonly emit: Emit,
        private readonly now: () => Date = () => new Date()
    ) {}

    /** Connected as the hub sees it: directly, or through a gateway whose uplink is up. */
    isConnected(deviceId: string): boolean {
        const s = this.sessions.get(deviceId)
        return !!s && this.reachable(s)
    }

    /** The edge device a connected device's session goes through, if any. */
    gatewayOf(deviceId: string): string | undefined {
        return this.sessions.get(deviceId)?.gateway?.edgeId
    }

    /** The devices connected through this edge device. */
    devicesVia(edgeId: string): string[] {
        return [...this.sessions.values()].filter((s) => s.gateway?.edgeId === edgeId).map((s) => s.device.deviceId)
    }

    attach(conn: MqttConnection, connect: IConnectPacket): void {
        const auth = hubAuthenticate(connect, conn.clientChain, {
            hubs: this.config.hubs.map((h) => h.hostName),
            registry: this.state.hub,
            certificates: this.state.certificates,
            now: this.now(),
            skewSec: this.config.sasSkewSec,
            policiesOf: (hub) => hubPolicies(this.config, hub),
        })
        if (!auth.ok) {
            this.emit("hub.refused", { remote: conn.remote, clientId: connect.clientId, deviceId: auth.deviceId, reason: auth.reason })
            return conn.refuse(CONNACK_NOT_AUTHORIZED, auth.reason)
        }
        this.admit(conn, connect, auth)
    }

    /** Opens the session of an authenticated device, directly or through `gateway`. */
    admit(conn: MqttConnection, connect: IConnectPacket, auth: Extract<HubAuthResult, { ok: true }>, gateway?: HubGateway): void {
        const device = auth.device
        const previous = this.sessions.get(device.deviceId)
        if (previous) this.end(previous, "another connection for the device took over")
        // clean=0 keeps the subscriptions on the device for the next connection, as the SDKs expect.
        const stored = connect.clean ? undefined : device.session
        const subscriptions = stored ?? new Map<string, SessionSubscription>()
        if (device.session !== (connect.clean ? undefined : subscriptions)) {
            device.session = connect.clean ? undefined : subscriptions
            this.state.hub.changed(device)
        }
        const session: HubSession = { conn, device, subscriptions, gateway }
        this.sessions.set(device.deviceId, session)
        conn.on("subscribe", (p: ISubscribePacket) => this.subscribe(session, p))
        conn.on("unsubscribe", (p: IUnsubscribePacket) => {
            p.unsubscriptions.forEach((f) => subscriptions.delete(f))
            this.sessionChanged(session)
        })
        conn.on("publish", (p: IPublishPacket) => this.onPublish(session, p))
        conn.on("puback", (messageId: number) => this.onPuback(session, messageId))
        conn.on("closed", () => {
            clearTimeout(session.expiry)
            if (this.sessions.get(device.deviceId) === session) this.end(session)
        })
        conn.accept(stored !== undefined)
        // A certificate session has no token to expire.
        if (auth.expiresAtSec !== undefined) {
            const delay = auth.expiresAtSec * 1000 - this.now().getTime()
            session.expiry = setTimeout(() => conn.close("SAS token expired", false), Math.min(Math.max(delay, 0), MAX_TIMER_MS))
        }
        device.lastActivityTimeUtc = this.now().toISOString()
        this.connectionStateChanged(device)
        this.emit("hub.connect", {
            remote: conn.remote,
            deviceId: device.deviceId,
            hub: device.hub,
            authenticationType: device.authentication.type,
            key: auth.key,
            policy: auth.policy,
            thumbprint: auth.thumbprint,
            apiVersion: auth.user.apiVersion,
            modelId: auth.user.modelId,
            sessionPresent: stored !== undefined,
            via: gateway?.edgeId,
        })
        this.deliverC2d(device.deviceId)
    }

    /** Disconnects a device now (the service disabled or deleted it). */
    disconnect(deviceId: string, reason: string): void {
        const s = this.sessions.get(deviceId)
        if (s) this.end(s, reason)
    }

    /** Sends the device's queued C2D messages it has not been handed yet, if it listens for them. */
    deliverC2d(deviceId: string): void {
        const s = this.sessions.get(deviceId)
        const sub = s && this.subscribed(s, "c2d")
        if (!s || !sub || !this.reachable(s)) return
        const queue = s.device.c2d
        for (const m of queue.undelivered()) {
            const topic = hubC2dTopic(deviceId, propertyBagBuild(m.systemProperties, m.properties))
            const packetId = s.conn.publish(topic, m.body, sub.qos)
            if (sub.qos === 1 && packetId === undefined) return
            queue.delivered(m, packetId ?? 0)
            this.emit("hub.c2d.sent", { deviceId, messageId: m.messageId, deliveryCount: m.deliveryCount })
            // At QoS 0 there is no acknowledgement to wait for.
            if (sub.qos === 0) this.complete(s, 0)
        }
    }

    /** Publishes a desired-properties patch to the device if it listens; false otherwise. */
    pushDesired(deviceId: string, patch: JsonObject, version: number): boolean {
        const s = this.sessions.get(deviceId)
        const sub = s && this.subscribed(s, "twin-desired")
        if (!s || !sub || !this.reachable(s)) return false
        s.conn.publish(hubDesiredPatchTopic(version), JSON.stringify({ ...patch, $version: version }), sub.qos)
        return true
    }

    /** Whether the device is connected and subscribed for `kind`. */
    listens(deviceId: string, kind: HubSubscription): boolean {
        const s = this.sessions.get(deviceId)
        return !!s && this.reachable(s) && this.subscribed(s, kind) !== undefined
    }

    /** Stores a device's message at the hub and reports it (directly, or as a gateway forwards it). */
    ingestTelemetry(device: DeviceRecord, m: Omit<TelemetryMessage, "sequenceNumber">): TelemetryMessage {
        const stored = this.state.hub.addTelemetry(device, m)
        this.emit("hub.telemetry", stored)
        return stored
    }

    /** Publishes a method request at QoS 0, as IoT Hub does (check listens() first). */
    sendMethodRequest(deviceId: string, methodName: string, rid: string, payload: unknown): void {
        this.sessions.get(deviceId)?.conn.publish(hubMethodRequestTopic(methodName, rid), JSON.stringify(payload ?? null), 0)
    }

    private reachable(s: HubSession): boolean {
        return s.conn.connected && (s.gateway?.uplinkUp ?? true)
    }

    private subscribed(s: HubSession, kind: HubSubscription): SessionSubscription | undefined {
        for (const sub of s.subscriptions.values()) if (sub.kind === kind) return sub
        return undefined
    }

    private end(s: HubSession, reason?: string) {
        this.sessions.delete(s.device.deviceId)
        this.connectionStateChanged(s.device)
        clearTimeout(s.expiry)
        s.device.c2d.connectionLost()
        if (reason) s.conn.close(reason, false)
    }

    /** Connected or disconnected just now: the time is kept with the identity, as IoT Hub shows it. */
    private connectionStateChanged(device: DeviceRecord) {
        device.connectionStateUpdatedTimeUtc = this.now().toISOString()
        this.state.hub.changed(device)
    }

    private subscribe(s: HubSession, p: ISubscribePacket) {
        const granted = p.subscriptions.map(({ topic, qos }) => {
            const kind = hubSubscriptionKind(topic, s.device.deviceId)
            if (!kind || (!s.subscriptions.has(topic) && s.subscriptions.size >= HUB_MAX_SUBSCRIPTIONS)) return SUBACK_FAILURE
            const q = Math.min(qos, 1) as 0 | 1
            s.subscriptions.set(topic, { kind, qos: q })
            return q
        })
        this.sessionChanged(s)
        s.conn.suback(p.messageId!, granted)
        this.deliverC2d(s.device.deviceId)
    }

    /** A clean=0 session's subscriptions are kept by the hub, so they are stored. */
    private sessionChanged(s: HubSession) {
        if (s.device.session === s.subscriptions) this.state.hub.changed(s.device)
    }

    private onPuback(s: HubSession, messageId: number) {
        if (this.sessions.get(s.device.deviceId) === s) this.complete(s, messageId)
    }

    private complete(s: HubSession, packetId: number) {
        const m = s.device.c2d.complete(packetId)
        if (m) this.emit("hub.c2d.completed", { deviceId: s.device.deviceId, messageId: m.messageId })
    }

    private onPublish(s: HubSession, p: IPublishPacket) {
        const deviceId = s.device.deviceId
        const req = hubParseRequestTopic(p.topic, deviceId)
        if (!req) return s.conn.close(`publish to unknown topic ${JSON.stringify(p.topic)}`)
        const body = typeof p.payload === "string" ? Buffer.from(p.payload) : p.payload
        const now = this.now()
        const nowUtc = now.toISOString()
        s.device.lastActivityTimeUtc = nowUtc
        // edgeHub without its uplink: twin requests fail and the device retries later (README).
        if ((req.kind === "twin-get" || req.kind === "twin-reported") && !this.reachable(s))
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
                return void this.methods.respond(deviceId, req.rid, req.status, body)
        }
    }

    /** Twin answers go out only on a `$iothub/twin/res/#` subscription, at its QoS. */
    private twinReply(s: HubSession, status: number, rid: string, body: string, version?: number) {
        const sub = this.subscribed(s, "twin-responses")
        if (sub) s.conn.publish(hubTwinResponseTopic(status, rid, version), body, sub.qos)
    }
}
