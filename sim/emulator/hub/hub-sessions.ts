// The hub's session table: one session per connected device (a new connection for the device
// ends the old one), its subscriptions (kept on the device for clean=0, as the SDKs expect), the
// IoT Edge gateway it goes through, and its SAS token's expiry.
import type { ISubscribePacket, IUnsubscribePacket } from "mqtt-packet"
import { HUB_MAX_SUBSCRIPTIONS, HubSubscription, hubSubscriptionKind } from "./hub-protocol"
import { DeviceRecord, SessionSubscription, TelemetryMessage } from "../state/hub-registry"
import { MqttConnection } from "../transport/mqtt-connection"
import { EmulatorState } from "../state/state"

const SUBACK_FAILURE = 0x80
// setTimeout's limit; a token valid for longer than ~24 days is re-armed by reconnecting anyway.
const MAX_TIMER_MS = 2 ** 31 - 1

/** The IoT Edge gateway a leaf's session goes through, as the hub sees it. */
export interface HubGateway {
    readonly edgeId: string
    /** Twin requests, desired pushes, methods and C2D need the uplink to the hub. */
    readonly uplinkUp: boolean
    /** Takes a leaf's telemetry (already acknowledged to the leaf) to forward or store. */
    upstream(m: Omit<TelemetryMessage, "sequenceNumber">): void
}

export interface HubSession {
    conn: MqttConnection
    device: DeviceRecord
    subscriptions: Map<string, SessionSubscription>
    gateway?: HubGateway
    expiry?: NodeJS.Timeout
}

export class HubSessions {
    private readonly sessions = new Map<string, HubSession>()

    constructor(
        private readonly state: EmulatorState,
        private readonly now: () => Date
    ) {}

    get(deviceId: string): HubSession | undefined {
        return this.sessions.get(deviceId)
    }

    /** Whether `s` is still the device's session (not ended or taken over). */
    isCurrent(s: HubSession): boolean {
        return this.sessions.get(s.device.deviceId) === s
    }

    /** Opens the device's session on `conn`, ending any other; `resumed`: clean=0 found stored subscriptions. */
    open(conn: MqttConnection, clean: boolean, device: DeviceRecord, gateway?: HubGateway): { session: HubSession; resumed: boolean } {
        const previous = this.sessions.get(device.deviceId)
        if (previous) this.end(previous, "another connection for the device took over")
        const stored = clean ? undefined : device.session
        const subscriptions = stored ?? new Map<string, SessionSubscription>()
        if (device.session !== (clean ? undefined : subscriptions)) {
            device.session = clean ? undefined : subscriptions
            this.state.hub.changed(device)
        }
        const session: HubSession = { conn, device, subscriptions, gateway }
        this.sessions.set(device.deviceId, session)
        return { session, resumed: stored !== undefined }
    }

    /** Closes the connection when the token expires (`expiresAtSec`, skew included). */
    expireAt(s: HubSession, expiresAtSec: number): void {
        const delay = expiresAtSec * 1000 - this.now().getTime()
        s.expiry = setTimeout(() => s.conn.close("SAS token expired", false), Math.min(Math.max(delay, 0), MAX_TIMER_MS))
    }

    /** Ends the session; with a reason, its connection is closed too. */
    end(s: HubSession, reason?: string): void {
        this.sessions.delete(s.device.deviceId)
        this.connectionStateChanged(s.device)
        clearTimeout(s.expiry)
        s.device.c2d.connectionLost()
        if (reason) s.conn.close(reason, false)
    }

    /** Connected or disconnected just now: the time is kept with the identity, as IoT Hub shows it. */
    connectionStateChanged(device: DeviceRecord): void {
        device.connectionStateUpdatedTimeUtc = this.now().toISOString()
        this.state.hub.changed(device)
    }

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

    reachable(s: HubSession): boolean {
        return s.conn.connected && (s.gateway?.uplinkUp ?? true)
    }

    subscribed(s: HubSession, kind: HubSubscription): SessionSubscription | undefined {
        for (const sub of s.subscriptions.values()) if (sub.kind === kind) return sub
        return undefined
    }

    /** Grants the hub's topics (QoS at most 1), refuses others and any past the limit; answers the SUBACK. */
    subscribe(s: HubSession, p: ISubscribePacket): void {
        const granted = p.subscriptions.map(({ topic, qos }) => {
            const kind = hubSubscriptionKind(topic, s.device.deviceId)
            if (!kind || (!s.subscriptions.has(topic) && s.subscriptions.size >= HUB_MAX_SUBSCRIPTIONS)) return SUBACK_FAILURE
            const q = Math.min(qos, 1) as 0 | 1
            s.subscriptions.set(topic, { kind, qos: q })
            return q
        })
        this.subscriptionsChanged(s)
        s.conn.suback(p.messageId!, granted)
    }

    unsubscribe(s: HubSession, p: IUnsubscribePacket): void {
        for (const f of p.unsubscriptions) s.subscriptions.delete(f)
        this.subscriptionsChanged(s)
    }

    /** A clean=0 session's subscriptions are kept by the hub, so they are stored. */
    private subscriptionsChanged(s: HubSession) {
        if (s.device.session === s.subscriptions) this.state.hub.changed(s.device)
    }
}
