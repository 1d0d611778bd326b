// Cuts whole MQTT packets out of a byte stream however TCP splits or joins them.
// Memory stays bounded: a packet larger than the limit is skipped byte-exactly
// (framing intact) and reported instead of buffered. Work per packet is
// constant: a chunk holding thousands of small packets is read from an offset,
// never copied again after each one.
import { MqttFrame } from "./packet"

export interface MqttSkipped {
    header: number
    skipped: number
}

export class MqttFrameReader {
    private pending: Buffer = Buffer.alloc(0)
    /** Where the next packet starts in `pending`. */
    private pos = 0
    private skipLeft = 0

    /** Bytes discarded from oversized packets since creation. */
    droppedBytes = 0

    constructor(readonly maxPacketSize: number) {}

    /** Adds received bytes; returns how many of them were discarded as part of an oversized packet. */
    push(chunk: Buffer): number {
        let skipped = 0
        if (this.skipLeft > 0) {
            skipped = Math.min(this.skipLeft, chunk.length)
            this.skipLeft -= skipped
            this.droppedBytes += skipped
            if (skipped === chunk.length) return skipped
            chunk = chunk.slice(skipped)
        }
        const rest = this.pending.length - this.pos
        this.pending = rest > 0 ? this.pending.slice(this.pos).concat(chunk) : chunk
        this.pos = 0
        return skipped
    }

    /**
     * The next whole packet, an MqttSkipped record for an oversized one, or
     * null when more bytes are needed. Throws on a malformed length.
     */
    next(): MqttFrame | MqttSkipped | null {
        if (this.skipLeft > 0) return null
        const p = this.pending
        const start = this.pos
        if (p.length - start < 2) return null
        let len = 0
        let mult = 1
        let i = start + 1
        for (;;) {
            if (i >= p.length) return null
            if (i > start + 4) throw new Error("mqtt: malformed remaining length")
            const b = p[i]
            len += (b & 127) * mult
            mult *= 128
            i++
            if ((b & 128) === 0) break
        }
        const header = p[start]
        const total = i - start + len
        if (total > this.maxPacketSize) {
            const have = p.length - i
            if (have >= len) {
                this.pos = i + len
            } else {
                this.skipLeft = len - have
                this.pending = Buffer.alloc(0)
                this.pos = 0
            }
            this.droppedBytes += Math.min(have, len)
            const rec: MqttSkipped = { header, skipped: total }
            return rec
        }
        if (p.length < i + len) return null
        const frame: MqttFrame = { header, body: p.slice(i, i + len) }
        this.pos = i + len
        if (this.pos === p.length) {
            this.pending = Buffer.alloc(0)
            this.pos = 0
        }
        return frame
    }

    reset() {
        this.pending = Buffer.alloc(0)
        this.pos = 0
        this.skipLeft = 0
    }
}
