// Seeded mutation of every packet the scripted cloud sends: the same seed replays the same attack, so a
// failure found by `npm run fuzz` is reproduced with its seed.
import { Connection, Mutator, OutKind } from "./cloud-peer"

/** mulberry32: small, fast, and the same sequence for a seed on every machine. */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0
    return () => {
        a = (a + 0x6d2b79f5) >>> 0
        let t = a
        t = Math.imul(t ^ (t >>> 15), t | 1)
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
}

export type Mutation = "truncate" | "oversize" | "garbage" | "flood" | "wrong-id" | "flip-header" | "duplicate" | "drop" | "huge-length"

const MUTATIONS: Mutation[] = ["truncate", "oversize", "garbage", "flood", "wrong-id", "flip-header", "duplicate", "drop", "huge-length"]

export interface FuzzStats {
    packets: number
    mutated: number
    byMutation: Partial<Record<Mutation, number>>
    byKind: Partial<Record<OutKind, number>>
}

/** Remaining length as MQTT encodes it (1-4 bytes). */
function remainingLength(n: number): Buffer {
    const out: number[] = []
    do {
        let b = n % 128
        n = Math.floor(n / 128)
        if (n > 0) b |= 128
        out.push(b)
    } while (n > 0)
    return Buffer.from(out)
}

/**
 * A mutator that rewrites a share `rate` of packets. Bit flips stay in the fixed header and the first bytes
 * after it (framing, lengths, ids): flipping a host name inside an assignment would be a valid answer
 * naming a hub that does not exist, which the device rightly tries for a long time.
 */
export function makeMutator(seed: number, rate: number, stats: FuzzStats, active: (c: Connection, kind: OutKind) => boolean): Mutator {
    const rnd = seededRandom(seed)
    const int = (n: number) => Math.floor(rnd() * n)
    return (c: Connection, kind: OutKind, bytes: Buffer): Buffer => {
        if (!active(c, kind)) return bytes
        stats.packets++
        if (rnd() >= rate) return bytes
        const m = MUTATIONS[int(MUTATIONS.length)]
        stats.mutated++
        stats.byMutation[m] = (stats.byMutation[m] ?? 0) + 1
        stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1
        switch (m) {
            case "truncate":
                return bytes.subarray(0, int(bytes.length))
            case "oversize": {
                // The same packet type with a body far larger than any the device accepts.
                const body = Buffer.alloc(9000 + int(60000), int(256))
                return Buffer.concat([Buffer.from([bytes[0]]), remainingLength(body.length), body])
            }
            case "garbage":
                return Buffer.from(Array.from({ length: 1 + int(300) }, () => int(256)))
            case "flood":
                return Buffer.concat(Array.from({ length: 100 + int(900) }, () => bytes))
            case "wrong-id": {
                const copy = Buffer.from(bytes)
                // Packet ids sit right after the fixed header of acks; elsewhere this hits topic lengths.
                const at = Math.min(copy.length - 1, 2 + int(2))
                copy[at] ^= 1 + int(255)
                return copy
            }
            case "flip-header": {
                const copy = Buffer.from(bytes)
                const at = int(Math.min(copy.length, 6))
                copy[at] ^= 1 << int(8)
                return copy
            }
            case "duplicate":
                return Buffer.concat([bytes, bytes])
            case "drop":
                return Buffer.alloc(0)
            case "huge-length":
                // A remaining length of 268 MB, then nothing: the device must not wait for it for ever.
                return Buffer.from([bytes[0], 0xff, 0xff, 0xff, 0x7f])
        }
    }
}
