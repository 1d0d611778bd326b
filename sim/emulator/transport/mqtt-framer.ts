// Cuts an MQTT byte stream into whole packets before anything parses them, so the
// packet-size limit holds before a byte of an oversized packet is buffered. Chunks are kept as
// they arrive and copied once, when their packet is complete: linear in the bytes received
// however small the TLS records are.

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

// The longest fixed header: type byte + 4 length bytes.
const MAX_HEADER = 5

export class MqttFramer {
    private chunks: Buffer[] = []
    private buffered = 0
    /** Total size of the packet at the head, once its header is complete. */
    private expected?: number

    private framed = 0

    /**
     * `firstPacketMaxBytes` bounds the first packet (the CONNECT, from a client not yet authenticated);
     * `maxPacketBytes` every later one.
     */
    constructor(
        private readonly maxPacketBytes: number,
        private readonly firstPacketMaxBytes = maxPacketBytes
    ) {}

    push(chunk: Buffer): FramerResult {
        if (chunk.length) {
            this.chunks.push(chunk)
            this.buffered += chunk.length
        }
        const frames: Buffer[] = []
        for (;;) {
            if (this.expected === undefined) {
                const h = readFixedHeader(this.peek(MAX_HEADER))
                if (h === "malformed") return { error: "malformed remaining length" }
                if (h === null) break
                const total = h.headerLen + h.remaining
                const max = this.framed === 0 ? this.firstPacketMaxBytes : this.maxPacketBytes
                if (total > max) return { error: `${this.framed === 0 ? "first packet" : "packet"} of ${total} bytes exceeds ${max}` }
                this.expected = total
            }
            if (this.buffered < this.expected) break
            frames.push(this.take(this.expected))
            this.expected = undefined
            this.framed++
        }
        return { frames }
    }

    /** The first `n` buffered bytes (fewer if not there), copying only those. */
    private peek(n: number): Buffer {
        const first = this.chunks[0]
        if (!first || first.length >= n || this.chunks.length === 1) return first ?? Buffer.alloc(0)
        const parts: Buffer[] = []
        let got = 0
        for (const c of this.chunks) {
            parts.push(c)
            got += c.length
            if (got >= n) break
        }
        return Buffer.concat(parts, Math.min(got, n))
    }

    /** Removes and returns the first `n` bytes. */
    private take(n: number): Buffer {
        const first = this.chunks[0]
        if (first.length >= n) {
            this.chunks[0] = first.subarray(n)
            if (!this.chunks[0].length) this.chunks.shift()
            this.buffered -= n
            return first.subarray(0, n)
        }
        const out = Buffer.allocUnsafe(n)
        let off = 0
        let used = 0
        while (off < n) {
            const c = this.chunks[used]
            const k = Math.min(c.length, n - off)
            c.copy(out, off, 0, k)
            off += k
            if (k < c.length) this.chunks[used] = c.subarray(k)
            else used++
        }
        this.chunks.splice(0, used)
        this.buffered -= n
        return out
    }
}
