// MQTT 3.1.1 client over the runtime's single TLS socket. One reader fiber cuts
// whole packets out of the stream and dispatches them, so a busy application
// never makes the client lose or misframe a packet.
import * as ds from "@devicescript/core"
import { Socket, connect } from "@devicescript/net"
import { MqttFrameReader, MqttSkipped } from "./frame-reader"
import { FirmwareError } from "../errors"
import { logClip } from "../log-text"
import { Wake } from "../wake"
import {
    CONNACK,
    MqttFrame,
    MqttPublish,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    mqttEncodeConnect,
    mqttEncodeDisconnect,
    mqttEncodePingreq,
    mqttEncodePuback,
    mqttEncodePublish,
    mqttEncodeSubscribe,
    mqttFrameType,
    mqttParseConnack,
    mqttParsePacketId,
    mqttParsePublish,
    mqttParseSubackCode,
} from "./packet"

export interface MqttClientOptions {
    host: string
    port: number
    clientId: string
    username?: string
    password?: string
    keepAliveSec: number
    cleanSession: boolean
    /** Larger inbound packets are skipped (and logged) instead of buffered. */
    maxPacketSize: number
    ackTimeoutMs: number
    connectTimeoutMs: number
    /** Received PUBLISH packets held until the application takes them... */
    inboxSize: number
    /** ...and the bytes their payloads may take together: what the heap can spare. */
    inboxBytes: number
}

/** code: the CONNACK return code (5 = not authorized), 0x80 for a refused SUBSCRIBE, 0 otherwise. */
export class MqttError extends FirmwareError {
    constructor(
        message: string,
        readonly code: number
    ) {
        super("MqttError", message)
    }
}

const WRITE_CHUNK = 1024
const RECV_POLL_MS = 1000
const RECV_SETTLE_MS = 20
/**
 * How long a PUBACK may wait for the application's next write to ride along with. Two small
 * writes in a row meet Nagle's algorithm and the peer's delayed ACK (~40 ms, on a board too);
 * one write does not.
 */
const ACK_HOLD_MS = 50
/** Held PUBACKs past this many bytes go out at once. */
const ACK_HOLD_BYTES = 64
/** Packets dispatched between yields, so a chunk of thousands of tiny packets cannot trip the VM's loop guard. */
const DISPATCH_SLICE = 16
const CONNACK_REASONS = [
    "accepted",
    "unacceptable protocol version",
    "identifier rejected",
    "server unavailable",
    "bad user name or password",
    "not authorized",
]

export function mqttConnackReason(code: number): string {
    return code < CONNACK_REASONS.length ? CONNACK_REASONS[code] : "refused"
}

/**
 * The server refused who the device is (CONNACK 4 bad user name or password, 5 not authorized):
 * the one answer that retrying with the same credentials cannot change.
 */
export function mqttIsAuthRefusal(e: any): boolean {
    if (!(e instanceof MqttError)) return false
    const code = (e as MqttError).code
    return code === 4 || code === 5
}

/** Packet ids run 1..65535 and wrap to 1: 0 is not a valid id (MQTT 3.1.1 section 2.3.1). */
export function mqttNextPacketId(id: number): number {
    return id >= 65535 ? 1 : id + 1
}

export const KEEPALIVE_WAIT = 0
export const KEEPALIVE_PING = 1
export const KEEPALIVE_DEAD = 2

/**
 * The keepalive decision at `nowMs`: a PINGREQ once nothing was sent for a whole period (the server
 * closes after 1.5 periods of silence), the link dead once a PINGREQ went unanswered for `ackTimeoutMs`.
 * `pingSentMs` is 0 when no PINGREQ is outstanding.
 */
export function mqttKeepaliveAction(nowMs: number, lastSendMs: number, pingSentMs: number, periodMs: number, ackTimeoutMs: number): number {
    if (pingSentMs > 0) return nowMs - pingSentMs > ackTimeoutMs ? KEEPALIVE_DEAD : KEEPALIVE_WAIT
    return nowMs - lastSendMs >= periodMs ? KEEPALIVE_PING : KEEPALIVE_WAIT
}

/** Removes `id` from `list`; says whether it was there. */
function listRemove(list: number[], id: number): boolean {
    const i = list.indexOf(id)
    if (i < 0) return false
    list.insert(i, -1)
    return true
}

export class MqttClient {
    private sock: Socket = null
    private reader: MqttFrameReader
    private wake = new Wake()
    private nextId = 0
    /** Ids of QoS 1 publishes waiting for their PUBACK, and those that got it. */
    private awaited: number[] = []
    private acked: number[] = []
    /** Ids of SUBSCRIBEs waiting for their SUBACK; answers are recorded only for them. */
    private subscribing: number[] = []
    private subackIds: number[] = []
    private subackCodes: number[] = []
    private strayAcks = 0
    private inbox: MqttPublish[] = []
    private inboxUsed = 0
    private connack = -1
    private lastSendMs = 0
    /** PUBACKs not yet written: they go out with the next write, or after ACK_HOLD_MS. */
    private heldAcks: Buffer = null
    private heldAtMs = 0
    private pingSentMs = 0
    private closedReason: string = null

    constructor(readonly opts: MqttClientOptions) {
        this.reader = new MqttFrameReader(opts.maxPacketSize)
    }

    isConnected(): boolean {
        return this.sock !== null && this.closedReason === null && this.connack === 0
    }

    /** Why the connection ended, or null while it is up. */
    closeReason(): string {
        return this.closedReason
    }

    async connect() {
        const o = this.opts
        this.reader.reset()
        this.awaited = []
        this.acked = []
        this.subscribing = []
        this.subackIds = []
        this.subackCodes = []
        this.strayAcks = 0
        this.inbox = []
        this.inboxUsed = 0
        this.connack = -1
        this.heldAcks = null
        this.pingSentMs = 0
        this.closedReason = null
        const sock = await connect({
            host: o.host,
            port: o.port,
            proto: "tls",
            timeout: o.connectTimeoutMs,
        })
        this.sock = sock
        const self = this
        const reader = async () => {
            await self.readLoop(sock)
        }
        reader.start()
        await this.send(
            mqttEncodeConnect({
                clientId: o.clientId,
                username: o.username,
                password: o.password,
                keepAliveSec: o.keepAliveSec,
                cleanSession: o.cleanSession,
            })
        )
        try {
            await this.waitFor(() => self.connack >= 0, o.connectTimeoutMs, "CONNACK")
        } catch (e) {
            await this.close()
            throw e
        }
        if (this.connack !== 0) {
            const code = this.connack
            await this.close()
            throw new MqttError("mqtt: connection refused: " + mqttConnackReason(code) + " (CONNACK " + code + ")", code)
        }
        if (o.keepAliveSec > 0) {
            const pinger = async () => {
                await self.keepAlive(sock)
            }
            pinger.start()
        }
    }

    /**
     * Subscribes the filters, all requests written at once and the SUBACKs awaited together;
     * returns the granted QoS of each, throws when the server refuses one (0x80).
     */
    async subscribe(filters: string[], qos: number[]): Promise<number[]> {
        const ids: number[] = []
        let packets: Buffer = null
        for (let i = 0; i < filters.length; i++) {
            const id = this.allocId()
            ids.push(id)
            this.subscribing.push(id)
            const p = mqttEncodeSubscribe(id, filters[i], qos[i])
            packets = packets === null ? p : Buffer.concat(packets, p)
        }
        const self = this
        try {
            await this.send(packets)
            const all = () => {
                for (const id of ids) if (self.subackIds.indexOf(id) < 0) return false
                return true
            }
            await this.waitFor(all, this.opts.ackTimeoutMs, "SUBACK")
        } finally {
            for (const id of ids) listRemove(this.subscribing, id)
        }
        const granted: number[] = []
        for (let k = 0; k < ids.length; k++) {
            const i = this.subackIds.indexOf(ids[k])
            const code = this.subackCodes[i]
            this.subackIds.insert(i, -1)
            this.subackCodes.insert(i, -1)
            if (code === 0x80) throw new MqttError("mqtt: subscription refused: " + filters[k], 0x80)
            granted.push(code)
        }
        return granted
    }

    /** QoS 1 resolves on PUBACK and throws on timeout or disconnect. */
    async publish(topic: string, payload: Buffer, qos: number) {
        if (qos === 0) return await this.send(mqttEncodePublish(topic, payload, 0, 0))
        const id = this.allocId()
        this.awaited.push(id)
        const self = this
        try {
            await this.send(mqttEncodePublish(topic, payload, qos, id))
            await this.waitFor(() => listRemove(self.acked, id), this.opts.ackTimeoutMs, "PUBACK")
        } finally {
            listRemove(this.awaited, id)
        }
    }

    /** The next received message, or undefined on timeout; throws once the connection is gone. */
    async receive(timeoutMs: number): Promise<MqttPublish> {
        const deadline = ds.millis() + timeoutMs
        for (;;) {
            if (this.inbox.length > 0) {
                const m = this.inbox.shift()
                this.inboxUsed -= m.body.length + m.topic.length
                return m
            }
            if (this.closedReason !== null) throw new MqttError(this.closedReason, 0)
            const left = deadline - ds.millis()
            if (left <= 0) return undefined
            await this.wake.wait(left)
        }
    }

    async close() {
        if (this.sock === null) return
        if (this.closedReason === null && this.connack === 0) {
            try {
                await this.send(mqttEncodeDisconnect())
            } catch (e) {
                // the peer is gone already; nothing to tell it
            }
        }
        // The reader fiber closes the socket when it sees this (see readLoop).
        this.finish("connection closed by client")
    }

    private allocId(): number {
        this.nextId = mqttNextPacketId(this.nextId)
        return this.nextId
    }

    private finish(reason: string) {
        if (this.closedReason === null) this.closedReason = reason
        this.sock = null
        this.wake.notify()
    }

    private async send(packet: Buffer) {
        const sock = this.sock
        if (sock === null || this.closedReason !== null) throw new MqttError(this.closedReason || "mqtt: not connected", 0)
        const held = this.heldAcks
        this.heldAcks = null
        const buf = held === null ? packet : Buffer.concat(held, packet)
        // Large single TLS writes assert on ESP32; keep each below a record.
        for (let off = 0; off < buf.length; off += WRITE_CHUNK) await sock.send(buf.slice(off, Math.min(buf.length, off + WRITE_CHUNK)))
        this.lastSendMs = ds.millis()
    }

    private async sendHeldAcks() {
        await this.send(Buffer.alloc(0))
    }

    private async waitFor(done: () => boolean, timeoutMs: number, what: string) {
        const deadline = ds.millis() + timeoutMs
        for (;;) {
            if (done()) return
            if (this.closedReason !== null) throw new MqttError("mqtt: " + this.closedReason + " while waiting for " + what, 0)
            const left = deadline - ds.millis()
            if (left <= 0) throw new MqttError("mqtt: no " + what + " within " + timeoutMs + " ms", 0)
            await this.wake.wait(left)
        }
    }

    /**
     * Owns the socket's end. The runtime's Socket.close() does not wake a pending recv(),
     * so a socket closed by close() would leave this fiber holding the client until its
     * next poll, and quick reconnects would pile such clients up in the heap. Instead
     * close() only marks the client closed and this fiber closes the socket once it wakes:
     * when the server ends the connection after DISCONNECT, when the next connect()
     * replaces the socket, or at the latest after RECV_POLL_MS.
     */
    private async readLoop(sock: Socket) {
        try {
            for (;;) {
                const held = this.heldAcks !== null
                let data = await sock.recv(held ? Math.max(1, this.heldAtMs + ACK_HOLD_MS - ds.millis()) : RECV_POLL_MS)
                if (this.sock !== sock) break
                // Nothing of the application's came to carry them in time: write the held PUBACKs alone.
                if (this.heldAcks !== null && ds.millis() >= this.heldAtMs + ACK_HOLD_MS) await this.sendHeldAcks()
                if (data === undefined) continue
                if (data === null) {
                    this.finish("connection closed by server")
                    break
                }
                this.reader.push(data)
                // The reader lets the chunk go once read; this fiber would otherwise hold it while it waits for the next.
                data = null
                let n = 0
                for (;;) {
                    const f = this.reader.next(this.inboxRoom())
                    if (f === null) break
                    await this.dispatch(f)
                    if (++n % DISPATCH_SLICE === 0) await ds.sleep(0)
                    if (this.sock !== sock) break
                }
            }
        } catch (e) {
            if (this.sock === sock) {
                const msg = (e as Error).message
                console.log("mqtt: " + msg)
                this.finish(msg)
            }
        }
        await sock.close()
        // The runtime's recv(timeout) waits with ds.wait, whose handler fiber may still be queued
        // when the wait times out; if this fiber ended first, that handler would resume a disposed
        // fiber and the VM would die ("fiber already disposed", seen under fuzzing). Suspending once
        // more lets such a handler resume this fiber harmlessly before it ends.
        await ds.sleep(RECV_SETTLE_MS)
    }

    /** Body bytes a received PUBLISH may have: larger ones are skipped before they take any heap. */
    private inboxRoom(): number {
        return this.inbox.length >= this.opts.inboxSize ? 0 : this.opts.inboxBytes - this.inboxUsed
    }

    private async dispatch(f: MqttFrame | MqttSkipped) {
        const s = f as MqttSkipped
        if (s.skipped !== undefined) {
            // Not acknowledging makes the server deliver a QoS 1 message again later.
            if (s.oversized) console.log("mqtt: dropped oversized packet type " + (f.header >> 4) + " (" + s.skipped + " bytes)")
            else console.log("mqtt: inbox full, message of " + s.skipped + " bytes not accepted")
            return
        }
        const frame = f as MqttFrame
        const type = mqttFrameType(frame)
        if (type === PUBLISH) await this.onPublish(mqttParsePublish(frame))
        else if (type === PUBACK) this.recordAck(this.awaited, this.acked, mqttParsePacketId(frame))
        else if (type === SUBACK) {
            const id = mqttParsePacketId(frame)
            if (this.recordAck(this.subscribing, this.subackIds, id)) this.subackCodes.push(mqttParseSubackCode(frame))
        } else if (type === CONNACK && this.connack < 0) this.connack = mqttParseConnack(frame)
        else if (type === PINGRESP) this.pingSentMs = 0
        else throw new Error("unexpected packet type " + type)
        this.wake.notify()
    }

    /**
     * Records an acknowledgement only for an id in flight and not yet answered: an ack for
     * anything else (a flood, a replay, a wrong id) must neither complete another request nor
     * grow a list. Says whether it was recorded.
     */
    private recordAck(inFlight: number[], answered: number[], id: number): boolean {
        if (inFlight.indexOf(id) >= 0 && answered.indexOf(id) < 0) {
            answered.push(id)
            return true
        }
        if (this.strayAcks++ === 0) console.log("mqtt: ignoring acknowledgements for packet ids not in flight (first: " + id + ")")
        return false
    }

    private async onPublish(msg: MqttPublish) {
        if (msg.qos > 1) throw new Error("QoS 2 PUBLISH not supported")
        const size = msg.body.length + msg.topic.length
        // The reader checked the count and the body; the topic's string is more.
        if (this.inboxUsed + size > this.opts.inboxBytes) {
            // Not acknowledging makes the server deliver a QoS 1 message again later.
            console.log("mqtt: inbox full, message on " + logClip(msg.topic, 80) + " not accepted")
            return
        }
        this.inbox.push(msg)
        this.inboxUsed += size
        if (msg.qos === 1) {
            const ack = mqttEncodePuback(msg.packetId)
            if (this.heldAcks === null) {
                this.heldAcks = ack
                this.heldAtMs = ds.millis()
            } else this.heldAcks = Buffer.concat(this.heldAcks, ack)
            if (this.heldAcks.length >= ACK_HOLD_BYTES) await this.sendHeldAcks()
        }
    }

    private async keepAlive(sock: Socket) {
        const periodMs = this.opts.keepAliveSec * 1000
        for (;;) {
            // Woken by finish() too, so a closed client is not held until the next tick.
            await this.wake.wait(Math.min(1000, periodMs))
            if (this.sock !== sock || this.closedReason !== null) return
            const now = ds.millis()
            const action = mqttKeepaliveAction(now, this.lastSendMs, this.pingSentMs, periodMs, this.opts.ackTimeoutMs)
            if (action === KEEPALIVE_DEAD) {
                this.finish("no PINGRESP within " + this.opts.ackTimeoutMs + " ms")
                return
            }
            if (action === KEEPALIVE_PING) {
                this.pingSentMs = now
                try {
                    await this.send(mqttEncodePingreq())
                } catch (e) {
                    return
                }
            }
        }
    }
}
