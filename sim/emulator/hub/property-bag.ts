// IoT Hub message property bags (azure-iot-protocol.md section 3): `k=v&k=v`, RFC 3986
// percent-encoded, system properties as `$.name` (sent `%24.name`). Plain functions.

/** System properties by their `$.` key, with the names the service side shows them under. */
const SYSTEM_NAMES: Record<string, string> = {
    mid: "messageId",
    cid: "correlationId",
    ct: "contentType",
    ce: "contentEncoding",
    uid: "userId",
    to: "to",
    exp: "expiryTimeUtc",
    ctime: "creationTimeUtc",
}
const SYSTEM_KEYS: Record<string, string> = Object.fromEntries(Object.entries(SYSTEM_NAMES).map(([k, v]) => [v, k]))

export interface PropertyBag {
    /** Application properties. */
    properties: Record<string, string>
    /** System properties by name (messageId, contentType...); an unknown `$.x` keeps its key. */
    systemProperties: Record<string, string>
}

export type PropertyBagResult = ({ ok: true } & PropertyBag) | { ok: false; reason: string }

// The hub closes the connection on these raw in a name or value; `&` and `=` only delimit.
const RAW_RESERVED = /[/#+:]/

function decode(s: string): string | undefined {
    try {
        return decodeURIComponent(s)
    } catch {
        return undefined
    }
}

export function propertyBagParse(bag: string): PropertyBagResult {
    const out: PropertyBag = { properties: {}, systemProperties: {} }
    for (const pair of bag.split("&")) {
        if (!pair) continue
        const eq = pair.indexOf("=")
        const rawName = eq < 0 ? pair : pair.slice(0, eq)
        const rawValue = eq < 0 ? "" : pair.slice(eq + 1)
        if (RAW_RESERVED.test(pair) || rawValue.includes("=")) return { ok: false, reason: `raw reserved character in property ${JSON.stringify(pair)}` }
        const name = decode(rawName)
        const value = decode(rawValue)
        if (!name || value === undefined) return { ok: false, reason: `property ${JSON.stringify(pair)} is not percent-encoded correctly` }
        if (name.startsWith("$.")) out.systemProperties[SYSTEM_NAMES[name.slice(2)] ?? name] = value
        else out.properties[name] = value
    }
    return { ok: true, ...out }
}

/** Every name and value percent-encoded; system properties first, as `%24.key`. */
export function propertyBagBuild(systemProperties: Record<string, string>, properties: Record<string, string>): string {
    const system = Object.entries(systemProperties).map(([name, v]) => `%24.${SYSTEM_KEYS[name] ?? name}=${encodeURIComponent(v)}`)
    const app = Object.entries(properties).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    return [...system, ...app].join("&")
}
