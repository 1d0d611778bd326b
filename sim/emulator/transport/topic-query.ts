// The `?k=v&...` tail of DPS and hub topics.

/** Query pairs with raw (undecoded) values: `$rid` must be echoed exactly as sent. */
export function parseQuery(q: string): Map<string, string> {
    const out = new Map<string, string>()
    for (const pair of q.split("&")) {
        const eq = pair.indexOf("=")
        if (eq > 0 && !out.has(pair.slice(0, eq))) out.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    return out
}
