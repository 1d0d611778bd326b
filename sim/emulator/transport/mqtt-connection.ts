// One client's MQTT 3.1.1 session on the server side: framing with a size limit, CONNECT
// first and once, keepalive and CONNECT timeouts, PINGREQ, QoS 1 acks both ways, and bounded
// buffers. Faces (DPS, hubs, gateways) get whole packets and decide what they mean.
// Nothing leaves before the state it reflects is durable: every packet waits for the store's
// commit that was pending when it was sent (`durable`), in order; a QoS 1 PUBLISH is acknowledged
// only after its face took it (a refusal closes the connection instead) and ahead of the answers
// the face sent for it.
import { EventEmitter } from "events"
import * as net from "net"
import * as tls from "tls"
import mqtt = require("mqtt-packet")
import { X509Certificate } from "crypto"
import { MqttFramer } from "./mqtt-framer"
import { PUBLISH_TYPE, decodePublish } from "./publish-decoder"
import { tlsPeerChain } from "./tls-listener"

export interface MqttLimits {
    maxPacketBytes: number
    /** The CONNECT, the one packet an unauthenticated client may send: a few hundred bytes in practice. */
    maxConnectBytes: number
    connectTimeoutMs: number
    /** Unacknowledged QoS 1 messages to one client before it counts as stuck. */
    maxInflight: number
    /** Bytes queued for a client that does not read before it is dropped. */
    maxWriteBufferBytes: number
}

// One port serves DPS and the hubs; 256 KB is also IoT Hub's device-to-cloud message limit.
export const MQTT_LIMITS: MqttLimits = {
    maxPacketBytes: 256 * 1024,
    maxConnectBytes: 8 * 1024,
    connectTimeoutMs: 10_000,
    maxInflight: 64,
    maxWriteBufferBytes: 1024 * 1024,
}

export interface ConnectionClosed {
    reason: string
    /** True when the server closed it for a protocol or limit violation. */
    violation: boolean
    /** MQTT bytes, inside TLS. */
    bytesIn: number
    bytesOut: number
    /** TCP bytes including the TLS handshake and records: the real cost on a device's radio. */
    wireBytesIn: number
    wireBytesOut: number
}

/**
 * The commit the emulator's state has pending, if any: a packet sent now goes out once it is
 * durable (undefined: nothing pending, it goes out at once).
 */
export type DurableBarrier = () => PromiseLike<void> | undefined

interface OutPacket {
    buf: Buffer
    ready: boolean
}

/** PUBACK (MQTT 3.1.1 section 3.4): the one packet per QoS 1 message, framed without the generic encoder. */
function pubackPacket(messageId: number): Buffer {
    const b = Buffer.allocUnsafe(4)
    b[0] = 0x40
    b[1] = 2
    b.writeUInt16BE(messageId, 2)
    return b
}

/** MQTT 3.1.1 section 1.5.3: a topic is a string of at most 65,535 bytes. */
export const MQTT_MAX_TOPIC_BYTES = 65_535

/** CONNACK return codes of MQTT 3.1.1. */
export const CONNACK_UNACCEPTABLE_PROTOCOL = 1
export const CONNACK_NOT_AUTHORIZED = 5

// IoT Hub caps the keepalive it honours at 1177 s, so it waits at most 1.5 x that.
const MAX_KEEPALIVE_TIMEOUT_MS = 1767_000

/** The silence the server allows: one and a half keepalive periods (MQTT 3.1.1 section 3.1.2.10); 0 = none. */
export function keepaliveTimeoutMs(keepaliveSec: number): number {
    return Math.min(keepaliveSec * 1500, MAX_KEEPALIVE_TIMEOUT_MS)
}

/**
 * Events: `connect` (IConnectPacket; the listener must call accept() or refuse() before returning),
 * `accepted` (after CONNACK 0), `publish` (IPublishPacket, QoS 0/1; acknowledged after the listeners return,
 * unless one closed the connection), `subscribe` (ISubscribePacket; answer with suback()),
 * `unsubscribe` (IUnsubscribePacket, already acknowledged), `puback` (message id of one of our QoS 1 publishes),
 * `closed` (ConnectionClosed, once).
 */
export class MqttConnection extends EventEmitter {
    readonly remote: string
    /** The client certificate chain presented in the TLS handshake, leaf first (empty for SAS clients). */
    readonly clientChain: X509Certificate[]
    clientId?: string
    bytesIn = 0
    bytesOut = 0
    private phase: "awaiting-connect" | "deciding" | "connected" | "closing" = "awaiting-connect"
    private readonly framer: MqttFramer
    private readonly parser = mqtt.parser()
    private readonly inflight = new Set<number>()
    private nextMessageId = 1
    private timer?: NodeJS.Timeout
    private timerMs = 0
    private timerReason = ""
    private keepaliveMs = 0
    private closeReason?: { reason: string; violation: boolean }
    /** Packets generated, in order, each written once its barrier is durable. */
    private readonly out: OutPacket[] = []
    /** The packets waiting on the latest barrier: one continuation for all of them, so they go out in one write. */
    private waiting?: { barrier: PromiseLike<void>; packets: OutPacket[] }
    private queuedBytes = 0
    /** Set while a face handles a QoS 1 PUBLISH, whose PUBACK goes ahead of what the face sends. */
    private holding = false
    private endWhenDrained = false

    constructor(
        private readonly sock: tls.TLSSocket,
        private readonly limits: MqttLimits,
        private readonly wire?: net.Socket,
        private readonly durable: DurableBarrier = () => undefined
    ) {
        super()
        this.remote = `${sock.remoteAddress}:${sock.remotePort}`
        this.clientChain = tlsPeerChain(sock)
        this.framer = new MqttFramer(limits.maxPacketBytes, limits.maxConnectBytes)
        this.parser.on("packet", (p: mqtt.Packet) => this.onPacket(p))
        this.parser.on("error", (e: Error) => this.violation(`malformed packet: ${e.message}`))
        sock.on("data", (d: Buffer) => this.onData(d))
        sock.on("error", (e) => this.close(`socket error: ${e.message}`, false))
        sock.on("end", () => this.close("client closed the connection", false))
        sock.on("close", () => this.finish())
        this.arm(limits.connectTimeoutMs, "no CONNECT in time")
    }

    accept(sessionPresent = false): void {
        if (this.phase !== "deciding") return
        this.phase = "connected"
        this.send({ cmd: "connack", returnCode: 0, sessionPresent })
        this.arm(this.keepaliveMs, "keepalive timeout")
        this.emit("accepted")
    }

    refuse(returnCode: number, reason: string): void {
        if (this.phase !== "deciding") return
        this.send({ cmd: "connack", returnCode, sessionPresent: false })
        this.close(`refused (CONNACK ${returnCode}): ${reason}`, false)
    }

    /**
     * Returns the message id of a QoS 1 publish (its PUBACK comes as a `puback` event). A topic MQTT cannot
     * carry is never framed: the service side refuses such messages before they get here, so what is left
     * is an answer echoing a client's own oversized `$rid`, and that client's connection is closed.
     */
    publish(topic: string, payload: string | Buffer, qos: 0 | 1): number | undefined {
        const topicBytes = Buffer.byteLength(topic)
        if (topicBytes > MQTT_MAX_TOPIC_BYTES)
            return void this.violation(`an answer would need a topic of ${topicBytes} bytes (MQTT allows ${MQTT_MAX_TOPIC_BYTES})`)
        if (this.phase !== "connected") return undefined
        if (qos === 0) return void this.send({ cmd: "publish", topic, payload, qos: 0, dup: false, retain: false })
        if (this.inflight.size >= this.limits.maxInflight) return void this.violation(`${this.inflight.size} messages left unacknowledged`)
        while (this.inflight.has(this.nextMessageId)) this.advanceMessageId()
        const messageId = this.nextMessageId
        this.advanceMessageId()
        this.inflight.add(messageId)
        this.send({ cmd: "publish", topic, payload, qos: 1, messageId, dup: false, retain: false })
        return messageId
    }

    get connected(): boolean {
        return this.phase === "connected"
    }

    suback(messageId: number, granted: number[]): void {
        this.send({ cmd: "suback", messageId, granted })
    }

    /** Ends the session; `reason` goes to the `closed` event, as a violation unless said otherwise. */
    close(reason: string, violation = true): void {
        if (this.closeReason) return
        this.closeReason = { reason, violation }
        this.phase = "closing"
        clearTimeout(this.timer)
        this.timer = undefined
        // What was already sent (a CONNACK refusal, acks of durable messages) goes out first.
        this.endWhenDrained = true
        this.drain()
        // A peer that never reads would keep a half-closed socket forever.
        setTimeout(() => this.sock.destroy(), 2000).unref()
    }

    private violation(reason: string) {
        this.close(reason, true)
    }

    private advanceMessageId() {
        this.nextMessageId = this.nextMessageId === 65535 ? 1 : this.nextMessageId + 1
    }

    /** (Re)starts the one timer: re-arming with the same period (every packet of a session) reuses it. */
    private arm(ms: number, reason: string) {
        this.timerReason = reason
        if (ms > 0 && ms === this.timerMs && this.timer) return void this.timer.refresh()
        clearTimeout(this.timer)
        this.timerMs = ms
        this.timer = ms > 0 ? setTimeout(() => this.violation(this.timerReason), ms) : undefined
    }

    private send(packet: object, at = this.out.length) {
        this.queue(mqtt.generate(packet as mqtt.Packet), at)
    }

    private queue(buf: Buffer, at = this.out.length) {
        if (this.closeReason) return
        if (this.sock.writableLength + this.queuedBytes > this.limits.maxWriteBufferBytes) return this.violation("client does not read its messages")
        const barrier = this.durable()
        const entry: OutPacket = { buf, ready: barrier === undefined }
        if (at === this.out.length) this.out.push(entry)
        else this.out.splice(at, 0, entry)
        this.queuedBytes += buf.length
        if (barrier) this.waitFor(barrier, entry)
        else this.drain()
    }

    private waitFor(barrier: PromiseLike<void>, entry: OutPacket) {
        if (this.waiting?.barrier === barrier) return void this.waiting.packets.push(entry)
        const waiting = { barrier, packets: [entry] }
        this.waiting = waiting
        barrier.then(() => {
            if (this.waiting === waiting) this.waiting = undefined
            for (const p of waiting.packets) p.ready = true
            this.drain()
        })
    }

    /** Writes the packets at the head whose state is durable, in order, as one write (one TLS record). */
    private drain() {
        if (this.holding) return
        let n = 0
        let bytes = 0
        while (n < this.out.length && this.out[n].ready) bytes += this.out[n++].buf.length
        if (n > 0) {
            const buf =
                n === 1
                    ? this.out[0].buf
                    : Buffer.concat(
                          this.out.slice(0, n).map((p) => p.buf),
                          bytes
                      )
            this.out.splice(0, n)
            this.queuedBytes -= bytes
            this.bytesOut += bytes
            this.sock.write(buf)
        }
        if (this.endWhenDrained && !this.out.length) this.sock.end()
    }

    private onData(chunk: Buffer) {
        this.bytesIn += chunk.length
        if (this.phase === "closing") return
        const r = this.framer.push(chunk)
        if ("error" in r) return this.violation(r.error)
        for (const frame of r.frames) {
            if (this.closeReason) return
            if (frame[0] >> 4 === PUBLISH_TYPE) {
                const p = decodePublish(frame)
                if ("error" in p) return this.violation(`malformed packet: ${p.error}`)
                this.onPacket(p)
                continue
            }
            try {
                this.parser.parse(frame)
            } catch (e) {
                return this.violation(`malformed packet: ${(e as Error).message}`)
            }
        }
    }

    private onPacket(p: mqtt.Packet) {
        if (this.phase === "closing") return
        if (this.phase === "awaiting-connect") return this.onConnect(p)
        this.arm(this.keepaliveMs, "keepalive timeout")
        switch (p.cmd) {
            case "pingreq":
                return this.send({ cmd: "pingresp" })
            case "disconnect":
                return this.close("client disconnected", false)
            case "puback":
                if (this.inflight.delete(p.messageId!)) this.emit("puback", p.messageId)
                return
            case "subscribe":
                return void this.emit("subscribe", p)
            case "unsubscribe":
                this.send({ cmd: "unsuback", messageId: p.messageId })
                return void this.emit("unsubscribe", p)
            case "publish":
                return this.onPublish(p)
            default:
                return this.violation(`unexpected ${p.cmd.toUpperCase()} packet`)
        }
    }

    /** The face takes the message first; a refusal closes the connection, so nothing refused is acknowledged. */
    private onPublish(p: mqtt.IPublishPacket) {
        if (p.qos === 2) return this.violation("QoS 2 publish is not supported")
        if (p.qos === 0) return void this.emit("publish", p)
        const mark = this.out.length
        this.holding = true
        try {
            this.emit("publish", p)
        } finally {
            this.holding = false
        }
        if (!this.closeReason) this.queue(pubackPacket(p.messageId!), mark)
        else this.drain()
    }

    private onConnect(p: mqtt.Packet) {
        if (p.cmd !== "connect") return this.violation(`${p.cmd.toUpperCase()} before CONNECT`)
        this.clientId = p.clientId
        this.phase = "deciding"
        if (p.protocolVersion !== 4 || p.protocolId !== "MQTT")
            return this.refuse(CONNACK_UNACCEPTABLE_PROTOCOL, `MQTT protocol version ${p.protocolVersion} (only 3.1.1)`)
        this.keepaliveMs = keepaliveTimeoutMs(p.keepalive ?? 0)
        this.emit("connect", p)
        if (this.phase === "deciding") this.refuse(CONNACK_NOT_AUTHORIZED, "no face accepted the connection")
    }

    private finish() {
        clearTimeout(this.timer)
        this.timer = undefined
        const why = this.closeReason ?? { reason: "connection lost", violation: false }
        this.closeReason = why
        this.phase = "closing"
        const closed: ConnectionClosed = {
            ...why,
            bytesIn: this.bytesIn,
            bytesOut: this.bytesOut,
            wireBytesIn: this.wire?.bytesRead ?? 0,
            wireBytesOut: this.wire?.bytesWritten ?? 0,
        }
        this.emit("closed", closed)
    }
}
