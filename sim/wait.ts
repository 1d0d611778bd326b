// Waiting for a condition that another part of the process makes true.

/** Polls `f` every 50 ms until it gives a value other than undefined/false; rejects after `timeoutMs`. */
export async function until<T>(what: string, f: () => T | undefined | false, timeoutMs: number): Promise<T> {
    const end = Date.now() + timeoutMs
    for (;;) {
        const v = f()
        if (v !== undefined && v !== false) return v as T
        if (Date.now() > end) throw new Error(`no ${what} within ${timeoutMs / 1000} s`)
        await new Promise((r) => setTimeout(r, 50))
    }
}
