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
