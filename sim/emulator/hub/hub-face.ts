// The IoT Hub face: admits device connections (with the authentication it is given) and binds
// each to its session (hub-sessions.ts), the device-to-cloud handlers (device-to-cloud.ts) and
// the hub's way back to the device (hub-outbound.ts), which the service side drives.
// Leaves behind an IoT Edge gateway (edge/edge-face.ts) get the same sessions, with the gateway in
// between: their telemetry goes to its store and forward, the rest needs its uplink.
import type { IConnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket } from "mqtt-packet"
import { Emit } from "../events"
import { HubAuthenticator } from "../auth/authenticators"
import { HubAuthResult } from "../auth/hub-auth"
import { DeviceToCloud } from "./device-to-cloud"
import { HubOutbound } from "./hub-outbound"
import { HubGateway, HubSessions } from "./hub-sessions"
import { CONNACK_NOT_AUTHORIZED, MqttConnection } from "../transport/mqtt-connection"
import { MqttFace } from "../transport/mqtt-router"
import { EmulatorState } from "../state/state"

export type { HubGateway } from "./hub-sessions"

export class HubFace implements MqttFace {
    readonly name = "hub"
    readonly sessions: HubSessions
    readonly outbound: HubOutbound
    readonly deviceToCloud: DeviceToCloud

    constructor(
        state: EmulatorState,
        private readonly authenticate: HubAuthenticator,
        private readonly emit: Emit,
        private readonly now: () => Date = () => new Date()
    ) {
        this.sessions = new HubSessions(state, now)
        this.outbound = new HubOutbound(this.sessions, emit)
        this.deviceToCloud = new DeviceToCloud(this.sessions, this.outbound, state, emit, now)
    }

    attach(conn: MqttConnection, connect: IConnectPacket): void {
        const auth = this.authenticate(connect, conn.clientChain, this.now())
        if (!auth.ok) {
            this.emit("hub.refused", { remote: conn.remote, clientId: connect.clientId, deviceId: auth.deviceId, reason: auth.reason })
            return conn.refuse(CONNACK_NOT_AUTHORIZED, auth.reason)
        }
        this.admit(conn, connect, auth)
    }

    /** Opens the session of an authenticated device, directly or through `gateway`. */
    admit(conn: MqttConnection, connect: IConnectPacket, auth: Extract<HubAuthResult, { ok: true }>, gateway?: HubGateway): void {
        const device = auth.device
        const { session, resumed } = this.sessions.open(conn, !!connect.clean, device, gateway)
        conn.on("subscribe", (p: ISubscribePacket) => {
            this.sessions.subscribe(session, p)
            this.outbound.deliverC2d(device.deviceId)
        })
        conn.on("unsubscribe", (p: IUnsubscribePacket) => this.sessions.unsubscribe(session, p))
        conn.on("publish", (p: IPublishPacket) => this.deviceToCloud.onPublish(session, p))
        conn.on("puback", (messageId: number) => this.deviceToCloud.onPuback(session, messageId))
        conn.on("closed", () => {
            clearTimeout(session.expiry)
            if (this.sessions.isCurrent(session)) this.sessions.end(session)
        })
        conn.accept(resumed)
        // A certificate session has no token to expire.
        if (auth.expiresAtSec !== undefined) this.sessions.expireAt(session, auth.expiresAtSec)
        device.lastActivityTimeUtc = this.now().toISOString()
        this.sessions.connectionStateChanged(device)
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
            sessionPresent: resumed,
            via: gateway?.edgeId,
        })
        this.outbound.deliverC2d(device.deviceId)
    }
}
