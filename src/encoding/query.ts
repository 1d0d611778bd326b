// The `k=v&k=v` tail of DPS and hub topics.

/** The raw (still percent-encoded) value of the first `key` in a query, or null. */
export function queryGet(query: string, key: string): string {
    for (const pair of query.split("&")) {
        const eq = pair.indexOf("=")
        if (eq > 0 && pair.slice(0, eq) === key) return pair.slice(eq + 1)
    }
    return null
}
