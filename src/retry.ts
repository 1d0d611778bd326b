// Exponential backoff with jitter, shared by every retry loop so no two devices
// that lost the same server come back in lockstep.

/** Delay before retry number `attempt` (0-based): base * 2^attempt capped at max, then scaled by 0.5..1.0 with `jitter01`. */
export function retryBackoffMs(attempt: number, baseMs: number, maxMs: number, jitter01: number): number {
    let d = baseMs
    for (let i = 0; i < attempt && d < maxMs; i++) d *= 2
    if (d > maxMs) d = maxMs
    return Math.floor(d * (0.5 + jitter01 / 2))
}

/** A server's retry-after in seconds clamped into 0..maxSec; `fallbackSec` when it sent none (negative). */
export function retryClampAfterSec(retryAfterSec: number, fallbackSec: number, maxSec: number): number {
    if (retryAfterSec < 0) return fallbackSec
    return retryAfterSec > maxSec ? maxSec : retryAfterSec
}

/**
 * One retry schedule: each failure waits longer, up to the cap, until reset().
 * Loops reset only after a success that proved itself (a healthy session, an
 * assignment), so a peer that accepts and drops cannot make the device hammer it.
 */
export class Backoff {
    private attempt = 0

    constructor(
        readonly baseMs: number,
        readonly maxMs: number
    ) {}

    /** The wait before the next try; counts a failure. */
    next(jitter01: number): number {
        const d = retryBackoffMs(this.attempt, this.baseMs, this.maxMs, jitter01)
        if (this.attempt < 32) this.attempt++
        return d
    }

    failures(): number {
        return this.attempt
    }

    reset() {
        this.attempt = 0
    }
}

/** "850 ms", "2.5 s", "4 min" for log lines. */
export function retryDescribeMs(ms: number): string {
    if (ms < 1000) return ms + " ms"
    if (ms < 120000) return Math.floor(ms / 100) / 10 + " s"
    return Math.floor(ms / 60000) + " min"
}
