// The `k=v&k=v` tail of DPS and hub topics. A peer controls these bytes, so the
// lookup searches for the key with the runtime's native indexOf instead of
// splitting: splitting 8 KB of "&&&&" would build thousands of strings, more
// than the heap holds, and a loop over them would trip the VM's loop guard.

/** The raw (still percent-encoded) value of the first `key` in a query, or null. */
export function queryGet(query: string, key: string): string {
    const needle = key + "="
    let from = 0
    for (;;) {
        const i = query.indexOf(needle, from)
        if (i < 0) return null
        if (i === 0 || query.charCodeAt(i - 1) === 38) {
            const end = query.indexOf("&", i)
            return query.slice(i + needle.length, end < 0 ? query.length : end)
        }
        from = i + 1
    }
}
