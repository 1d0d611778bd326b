// Cuts whole MQTT packets out of a byte stream however TCP splits or joins them.
// Memory stays bounded and adds up: a received chunk is read in place from an
// offset (never copied again after each packet), and a packet split across
// chunks gets one buffer of its known size that later chunks are copied into,
// so a big packet trickled in small pieces costs its size once, not a fresh
// concatenation per piece. A packet larger than the limit (for packets other
// than PUBLISH, a few bytes), or a PUBLISH larger than the room its receiver
// has left, is skipped byte-exactly (framing intact) and reported instead of
// buffered.
import { MqttFrame, PUBLISH } from "./packet"

export interface MqttSkipped {
    header: number
    skipped: number
    /** Over the packet limit; otherwise a PUBLISH there was no room for. */
    oversized: boolean
}

/** The fixed header: a type byte and 1 to 4 remaining-length bytes. */
const HEAD_MAX = 5
/**
 * The largest packet other than PUBLISH a client is sent is a SUBACK of a few bytes: a larger one is a peer's
 * garbage that must not take a packet's worth of heap.
 */
const CONTROL_MAX = 64

export class MqttFrameReader {
    /** The chunk being read (null once read to its end) and where its unread bytes start. */
    private chunk: Buffer = null
    private pos = 0
    /** A fixed header split across chunks. */
    private head = Buffer.alloc(HEAD_MAX)
    private headLen = 0
    /** The body of a packet split across chunks, allocated at its full length, and the bytes in it so far. */
    private body: Buffer = null
    private bodyLen = 0
    private bodyHeader = 0
    private skipLeft = 0

    /** Bytes discarded from oversized packets since creation. */
    droppedBytes = 0

    constructor(readonly maxPacketSize: number) {}

    /** Adds received bytes: read next() until it returns null first, or the unread rest is copied. */
    push(chunk: Buffer) {
        const c = this.chunk
        this.chunk = c !== null && this.pos < c.length ? c.slice(this.pos).concat(chunk) : chunk
        this.pos = 0
    }

    /**
     * The next whole packet, an MqttSkipped record for an oversized one or a
     * PUBLISH whose body is larger than `publishRoom`, or null when more bytes
     * are needed. Throws on a malformed length.
     */
    next(publishRoom: number): MqttFrame | MqttSkipped | null {
        const c = this.chunk
        if (c === null) return null
        if (this.skipLeft > 0) {
            const n = Math.min(this.skipLeft, c.length - this.pos)
            this.skipLeft -= n
            this.droppedBytes += n
            this.pos += n
            if (this.skipLeft > 0) return this.used()
        }
        if (this.body !== null) {
            const n = Math.min(this.body.length - this.bodyLen, c.length - this.pos)
            this.body.blitAt(this.bodyLen, c, this.pos, n)
            this.bodyLen += n
            this.pos += n
            if (this.bodyLen < this.body.length) return this.used()
            const done: MqttFrame = { header: this.bodyHeader, body: this.body }
            this.body = null
            return done
        }
        const head = this.head
        for (;;) {
            if (this.pos >= c.length) return this.used()
            const b = c[this.pos]
            this.pos++
            head[this.headLen] = b
            this.headLen++
            if (this.headLen > 1 && (b & 128) === 0) break
            if (this.headLen === HEAD_MAX) throw new Error("mqtt: malformed remaining length")
        }
        let len = 0
        let mult = 1
        for (let i = 1; i < this.headLen; i++) {
            len += (head[i] & 127) * mult
            mult *= 128
        }
        const header = head[0]
        const total = this.headLen + len
        this.headLen = 0
        const publish = header >> 4 === PUBLISH
        const oversized = total > this.maxPacketSize || (!publish && total > CONTROL_MAX)
        // Deciding at the header, before the body is buffered, keeps a packet the receiver must drop out of the heap.
        if (oversized || (publish && len > publishRoom)) {
            // Skipped from the next call on, within this chunk and the following ones.
            this.skipLeft = len
            const rec: MqttSkipped = { header, skipped: total, oversized }
            return rec
        }
        const have = c.length - this.pos
        if (have >= len) {
            const frame: MqttFrame = { header, body: c.slice(this.pos, this.pos + len) }
            this.pos += len
            return frame
        }
        this.body = Buffer.alloc(len)
        this.body.blitAt(0, c, this.pos, have)
        this.bodyLen = have
        this.bodyHeader = header
        return this.used()
    }

    /** The chunk is read to its end: let it go. */
    private used(): null {
        this.chunk = null
        this.pos = 0
        return null
    }

    reset() {
        this.chunk = null
        this.pos = 0
        this.headLen = 0
        this.body = null
        this.skipLeft = 0
    }
}
