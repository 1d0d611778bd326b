// IoT Hub message property bags: `k=v&k=v`, RFC 3986 percent-encoded, system
// properties prefixed `$.` (sent as `%24.`).
import { urlDecode, urlEncode } from "../encoding/url"
import { textSplit } from "../encoding/text"

export interface HubProperty {
    name: string
    value: string
}

export function propertyBagEncode(props: HubProperty[]): string {
    let out = ""
    for (const p of props) {
        if (out.length > 0) out += "&"
        out += urlEncode(p.name) + "=" + urlEncode(p.value)
    }
    return out
}

/** Decodes a bag; names come back with `$.` for system properties. Throws on broken escapes. */
export function propertyBagDecode(bag: string): HubProperty[] {
    const out: HubProperty[] = []
    if (bag.length === 0) return out
    for (const pair of textSplit(bag, "&")) {
        if (pair.length === 0) continue
        const eq = pair.indexOf("=")
        const name = urlDecode(eq < 0 ? pair : pair.slice(0, eq))
        const value = eq < 0 ? "" : urlDecode(pair.slice(eq + 1))
        out.push({ name, value })
    }
    return out
}

/** The value of the first property called `name`, or null. */
export function propertyBagGet(props: HubProperty[], name: string): string | null {
    for (const p of props) if (p.name === name) return p.value
    return null
}
