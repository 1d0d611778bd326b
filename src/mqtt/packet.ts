// MQTT 3.1.1 packet encoding and decoding as plain functions of their inputs.

export const CONNECT = 1
export const CONNACK = 2
export const PUBLISH = 3
export const PUBACK = 4
export const SUBSCRIBE = 8
export const SUBACK = 9
export const PINGREQ = 12
export const PINGRESP = 13
export const DISCONNECT = 14

export interface MqttConnectOptions {
    clientId: string
    username?: string
    password?: string
    keepAliveSec: number
    cleanSession: boolean
}

/**
 * A received PUBLISH. Its payload stays where it arrived, in the packet's body from `payloadStart` on: the
 * runtime's Buffer.slice copies, and a copy would hold a large packet twice in the heap.
 */
export interface MqttPublish {
    topic: string
    /** null once a parser took it (see jsonParseBounded). */
    body: Buffer | null
    payloadStart: number
    qos: number
    packetId: number
    dup: boolean
    retain: boolean
}

/** A whole packet as cut out of the stream: fixed-header byte and body. */
export interface MqttFrame {
    header: number
    body: Buffer
}

export function mqttEncodeRemainingLength(len: number): Buffer {
    if (len < 0 || len > 268435455) throw new RangeError("mqtt: packet too large")
    const out = Buffer.alloc(len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : 4)
    for (let i = 0; i < out.length; i++) {
        let b = len & 127
        len = len >> 7
        if (len > 0) b |= 128
        out[i] = b
    }
    return out
}

function u16(n: number): Buffer {
    const b = Buffer.alloc(2)
    b[0] = (n >> 8) & 255
    b[1] = n & 255
    return b
}

function str(s: string): Buffer {
    const b = Buffer.from(s)
    if (b.length > 65535) throw new RangeError("mqtt: string too long")
    return u16(b.length).concat(b)
}

function packet(header: number, parts: Buffer[]): Buffer {
    let len = 0
    for (const p of parts) len += p.length
    const head = Buffer.alloc(1)
    head[0] = header
    const out = Buffer.alloc(1 + mqttEncodeRemainingLength(len).length + len)
    out.set(head, 0)
    const rl = mqttEncodeRemainingLength(len)
    out.set(rl, 1)
    let o = 1 + rl.length
    for (const p of parts) {
        out.set(p, o)
        o += p.length
    }
    return out
}

export function mqttEncodeConnect(opts: MqttConnectOptions): Buffer {
    let flags = opts.cleanSession ? 2 : 0
    const parts = [str("MQTT"), Buffer.alloc(4), str(opts.clientId)]
    if (opts.username !== undefined) {
        flags |= 128
        parts.push(str(opts.username))
    }
    if (opts.password !== undefined) {
        flags |= 64
        parts.push(str(opts.password))
    }
    const vh = parts[1]
    vh[0] = 4 // protocol level 3.1.1
    vh[1] = flags
    vh[2] = (opts.keepAliveSec >> 8) & 255
    vh[3] = opts.keepAliveSec & 255
    return packet(CONNECT << 4, parts)
}

export function mqttEncodePublish(topic: string, payload: Buffer, qos: number, packetId: number): Buffer {
    const parts = [str(topic)]
    if (qos > 0) parts.push(u16(packetId))
    parts.push(payload)
    return packet((PUBLISH << 4) | (qos << 1), parts)
}

export function mqttEncodePuback(packetId: number): Buffer {
    return packet(PUBACK << 4, [u16(packetId)])
}

export function mqttEncodeSubscribe(packetId: number, filter: string, qos: number): Buffer {
    const q = Buffer.alloc(1)
    q[0] = qos
    return packet((SUBSCRIBE << 4) | 2, [u16(packetId), str(filter), q])
}

export function mqttEncodePingreq(): Buffer {
    return packet(PINGREQ << 4, [])
}

export function mqttEncodeDisconnect(): Buffer {
    return packet(DISCONNECT << 4, [])
}

export function mqttFrameType(frame: MqttFrame): number {
    return frame.header >> 4
}

/** CONNACK return code (0 = accepted); throws on a malformed packet. */
export function mqttParseConnack(frame: MqttFrame): number {
    if (frame.body.length !== 2) throw new Error("mqtt: malformed CONNACK")
    return frame.body[1]
}

/** Packet id of PUBACK / SUBACK / UNSUBACK. */
export function mqttParsePacketId(frame: MqttFrame): number {
    if (frame.body.length < 2) throw new Error("mqtt: malformed ack")
    return (frame.body[0] << 8) | frame.body[1]
}

/** First granted QoS of a SUBACK (0x80 = refused). */
export function mqttParseSubackCode(frame: MqttFrame): number {
    if (frame.body.length < 3) throw new Error("mqtt: malformed SUBACK")
    return frame.body[2]
}

export function mqttPayloadLength(m: MqttPublish): number {
    return m.body.length - m.payloadStart
}

export function mqttParsePublish(frame: MqttFrame): MqttPublish {
    const qos = (frame.header >> 1) & 3
    const b = frame.body
    if (qos > 2 || b.length < 2) throw new Error("mqtt: malformed PUBLISH")
    const tlen = (b[0] << 8) | b[1]
    let o = 2 + tlen
    if (o > b.length) throw new Error("mqtt: malformed PUBLISH topic")
    const topic = b.slice(2, o).toString("utf-8")
    let packetId = 0
    if (qos > 0) {
        if (o + 2 > b.length) throw new Error("mqtt: malformed PUBLISH id")
        packetId = (b[o] << 8) | b[o + 1]
        o += 2
    }
    return {
        topic,
        body: b,
        payloadStart: o,
        qos,
        packetId,
        dup: (frame.header & 8) !== 0,
        retain: (frame.header & 1) !== 0,
    }
}
