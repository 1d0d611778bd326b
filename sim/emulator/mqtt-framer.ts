// Cuts an MQTT byte stream into whole packets before anything parses them, so the
// packet-size limit holds before a byte of an oversized packet is buffered.

export type FramerResult = { frames: Buffer[] } | { error: string }

/** Fixed header: type byte + 1..4 remaining-length bytes. null while incomplete. */
export function readFixedHeader(buf: Buffer): { headerLen: number; remaining: number } | "malformed" | null {
    let remaining = 0
    for (let i = 1; i <= 4; i++) {
        if (buf.length <= i) return null
        const b = buf[i]
        remaining += (b & 0x7f) * 128 ** (i - 1)
        if ((b & 0x80) === 0) return { headerLen: i + 1, remaining }
    }
    return "malformed"
}

export class MqttFramer {
    private pending: Buffer = Buffer.alloc(0)

    constructor(private readonly maxPacketBytes: number) {}

    push(chunk: Buffer): FramerResult {
        this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk
        const frames: Buffer[] = []
        for (;;) {
            const h = readFixedHeader(this.pending)
            if (h === "malformed") return { error: "malformed remaining length" }
            if (h === null) break
            const total = h.headerLen + h.remaining
            if (total > this.maxPacketBytes) return { error: `packet of ${total} bytes exceeds ${this.maxPacketBytes}` }
            if (this.pending.length < total) break
            frames.push(this.pending.subarray(0, total))
            this.pending = this.pending.subarray(total)
        }
        return { frames }
    }
}
