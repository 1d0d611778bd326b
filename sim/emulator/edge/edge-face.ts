// An IoT Edge transparent gateway (azure-iot-protocol.md section 4): its own TLS endpoint in
// front of its hub. It admits leaves as edgeHub does (the hub's identities: SAS with audience = hub
// or gateway host name, or X.509 thumbprint / CA chain with CN = device id; only children of this
// edge device), hands their sessions to the hub face, and stands between them and the hub: telemetry is forwarded, or stored while the uplink is down.
import type { IConnectPacket } from "mqtt-packet"
import { EdgeGatewayConfig, EmulatorConfig } from "../config"
import { MessageStore, UpstreamMessage } from "./edge-store"
import { Emit } from "../events"
import { HubAuthenticator } from "../auth/authenticators"
import { HubFace, HubGateway } from "../hub/hub-face"
import { CONNACK_NOT_AUTHORIZED, MqttConnection } from "../transport/mqtt-connection"
import { MqttFace } from "../transport/mqtt-router"
import { EmulatorState } from "../state/state"
import { Journal, NO_JOURNAL } from "../state/store"
import { EdgeUplink } from "../service/hub-link"

export class EdgeFace implements MqttFace, HubGateway, EdgeUplink {
    readonly name = "edge"
    private up = true
    private readonly store: MessageStore
    private journal: Journal = NO_JOURNAL

    constructor(
        readonly edge: EdgeGatewayConfig,
        private readonly limits: EmulatorConfig["edge"],
        private readonly state: EmulatorState,
        private readonly hub: HubFace,
        private readonly authenticate: HubAuthenticator,
        private readonly emit: Emit,
        private readonly now: () => Date = () => new Date()
    ) {
        this.store = new MessageStore(
            { maxMessages: limits.maxStoredMessages, ttlSec: limits.messageTtlSec },
            `edge-queue/${edge.deviceId}/`,
            () => this.journal
        )
    }

    private get uplinkKey(): string {
        return `edge-uplink/${this.edgeId}`
    }

    /** Writes the gateway's queue and uplink switch to `journal` from now on (`writeAll`: a new store). */
    attachJournal(journal: Journal, writeAll: boolean): void {
        this.journal = journal
        if (!writeAll) return
        this.store.rewrite()
        journal.put(this.uplinkKey, () => this.up)
    }

    /** Takes the queue and the uplink switch from the store's records. */
    restoreQueue(entries: [string, unknown][]): void {
        this.store.restore(entries)
        this.up = (entries.find(([k]) => k === this.uplinkKey)?.[1] as boolean | undefined) ?? true
    }

    get edgeId(): string {
        return this.edge.deviceId
    }

    get uplinkUp(): boolean {
        return this.up
    }

    /** Leaves' messages kept while the uplink is down. */
    get storedMessages(): number {
        return this.store.size
    }

    attach(conn: MqttConnection, connect: IConnectPacket): void {
        const auth = this.authenticate(connect, conn.clientChain, this.now())
        if (!auth.ok) return this.refuse(conn, connect, auth.deviceId, auth.reason)
        const deviceId = auth.device.deviceId
        if (auth.device.parent !== this.edgeId) return this.refuse(conn, connect, deviceId, `device ${deviceId} is not a child of edge device ${this.edgeId}`)
        this.hub.admit(conn, connect, auth, this)
    }

    upstream(m: UpstreamMessage): void {
        if (this.up) return this.deliver(m)
        const pushedOut = this.store.add(m)
        this.emit("edge.stored", { edgeId: this.edgeId, deviceId: m.deviceId, pending: this.store.size })
        if (pushedOut) this.dropped(pushedOut, `the store is full (${this.limits.maxStoredMessages} messages)`)
    }

    /** The uplink switch: coming up delivers what was stored, in order, then the leaves' pending C2D. */
    setUplink(up: boolean): void {
        if (up === this.up) return
        this.up = up
        this.journal.put(this.uplinkKey, () => up)
        this.emit("edge.uplink", { edgeId: this.edgeId, up, pending: this.store.size })
        if (!up) return
        const { live, expired } = this.store.takeAll(this.now())
        for (const m of expired) this.dropped(m, `older than the message TTL (${this.limits.messageTtlSec} s)`)
        for (const m of live) this.deliver(m)
        for (const deviceId of this.hub.sessions.devicesVia(this.edgeId)) this.hub.outbound.deliverC2d(deviceId)
    }

    private deliver(m: UpstreamMessage) {
        const device = this.state.hub.device(m.deviceId)
        if (!device) return this.dropped(m, "the device was deleted")
        this.hub.deviceToCloud.ingestTelemetry(device, { ...m, enqueuedTimeUtc: this.now().toISOString(), via: this.edgeId })
    }

    private refuse(conn: MqttConnection, connect: IConnectPacket, deviceId: string | undefined, reason: string) {
        this.emit("edge.refused", { edgeId: this.edgeId, remote: conn.remote, clientId: connect.clientId, deviceId, reason })
        conn.refuse(CONNACK_NOT_AUTHORIZED, reason)
    }

    private dropped(m: UpstreamMessage, reason: string) {
        this.emit("edge.dropped", { edgeId: this.edgeId, deviceId: m.deviceId, receivedTimeUtc: m.enqueuedTimeUtc, reason })
    }
}
