// Cuts whole MQTT packets out of a byte stream however TCP splits or joins them.
// Memory stays bounded: a packet larger than the limit is skipped byte-exactly
// (framing intact) and reported instead of buffered.
import { MqttFrame } from "./packet"

export interface MqttSkipped {
    header: number
    skipped: number
}

export class MqttFrameReader {
    private pending: Buffer = Buffer.alloc(0)
    private skipLeft = 0

    /** Bytes discarded from oversized packets since creation. */
    droppedBytes = 0

    constructor(readonly maxPacketSize: number) {}

    /** Adds received bytes; returns how many of them were discarded as part of an oversized packet. */
    push(chunk: Buffer): number {
        if (this.skipLeft > 0) {
            const n = Math.min(this.skipLeft, chunk.length)
            this.skipLeft -= n
            this.droppedBytes += n
            chunk = chunk.slice(n)
            if (chunk.length === 0) return n
            this.pending = this.pending.length ? this.pending.concat(chunk) : chunk
            return n
        }
        this.pending = this.pending.length ? this.pending.concat(chunk) : chunk
        return 0
    }

    /**
     * The next whole packet, an MqttSkipped record for an oversized one, or
     * null when more bytes are needed. Throws on a malformed length.
     */
    next(): MqttFrame | MqttSkipped | null {
        if (this.skipLeft > 0) return null
        const p = this.pending
        if (p.length < 2) return null
        let len = 0
        let mult = 1
        let i = 1
        for (;;) {
            if (i >= p.length) return null
            if (i > 4) throw new Error("mqtt: malformed remaining length")
            const b = p[i]
            len += (b & 127) * mult
            mult *= 128
            i++
            if ((b & 128) === 0) break
        }
        const header = p[0]
        const total = i + len
        if (total > this.maxPacketSize) {
            const have = p.length - i
            if (have >= len) {
                this.pending = p.slice(i + len)
            } else {
                this.skipLeft = len - have
                this.pending = Buffer.alloc(0)
            }
            this.droppedBytes += Math.min(have, len)
            const rec: MqttSkipped = { header, skipped: total }
            return rec
        }
        if (p.length < total) return null
        const frame: MqttFrame = { header, body: p.slice(i, total) }
        this.pending = p.slice(total)
        return frame
    }

    reset() {
        this.pending = Buffer.alloc(0)
        this.skipLeft = 0
    }
}
