// Seeded fuzz input for the emulator's faces: random byte strings alternating with valid packets that have
// three bytes changed. The same seed gives the same packets, so a failure names its seed and replays with
// FUZZ_SEED=<seed>; without it each test uses a fixed seed, so the suite is the same on every run.
import { seededRandom } from "../hostile/fuzz"

export function fuzzSeed(fixed: number): number {
    return process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : fixed
}

/** `count` packets: odd ones random (1 to `maxRandom` bytes), even ones a valid packet with 3 bytes changed. */
export function fuzzPackets(seed: number, count: number, valid: Buffer[], maxRandom: number): Buffer[] {
    const rnd = seededRandom(seed)
    const byte = () => Math.floor(rnd() * 256)
    const out: Buffer[] = []
    for (let i = 0; i < count; i++) {
        if (i % 2) {
            out.push(Buffer.from(Array.from({ length: 1 + (i % maxRandom) }, byte)))
            continue
        }
        const m = Buffer.from(valid[i % valid.length])
        for (let k = 0; k < 3; k++) m[Math.floor(rnd() * m.length)] = byte()
        out.push(m)
    }
    return out
}

/** Runs `f`; a failure carries the seed that replays it. */
export async function withSeed<T>(seed: number, f: () => Promise<T>): Promise<T> {
    try {
        return await f()
    } catch (e) {
        if (e instanceof Error) e.message += ` (fuzz seed ${seed}: rerun with FUZZ_SEED=${seed})`
        throw e
    }
}
