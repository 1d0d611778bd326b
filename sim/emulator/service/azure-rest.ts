// What IoT Hub's and DPS's service REST APIs have in common, so the official service SDKs
// (azure-iothub, azure-iot-provisioning-service) can drive the emulator: a route table, the
// `api-version` every request carries, SAS tokens of a named policy, If-Match against ETags, and
// JSON answers. Each API writes its own error bodies (they differ: see hub-rest and dps-rest).
import { createHash } from "crypto"
import type * as http from "http"
import { sasCheckClaims, sasMatchKey, sasParse } from "../auth/sas"

export interface RestRequest {
    ids: string[]
    query: URLSearchParams
    /** The If-Match header without its quotes; "*" matches any ETag. */
    ifMatch?: string
    /** What the request's token was signed for (its sr): the hub or DPS host name. */
    audience: string
    /** A request header (lower-case name). */
    header(name: string): string | undefined
    body(): Promise<any>
}

export interface RestAnswer {
    status: number
    json?: unknown
    /** Sent as the ETag header (quoted). */
    etag?: string
    headers?: Record<string, string>
}

/** A failure with the HTTP status and the API's own error code (IoT Hub: a name such as DeviceNotFound; DPS: a number). */
export class RestError extends Error {
    constructor(
        readonly status: number,
        readonly code: string | number,
        message: string
    ) {
        super(message)
    }
}

export type RestRoute = [method: string, path: RegExp, handle: (r: RestRequest) => Promise<RestAnswer>]

/** The route for the request and its decoded path ids; undefined when no route matches. */
export function restMatch(routes: RestRoute[], method: string, pathname: string): { route: RestRoute; ids: string[] } | undefined {
    for (const route of routes) {
        if (route[0] !== method) continue
        const m = route[1].exec(pathname)
        if (!m) continue
        try {
            return { route, ids: m.slice(1).map(decodeURIComponent) }
        } catch {
            throw new RestError(400, "ArgumentInvalid", "malformed id in the path")
        }
    }
    return undefined
}

export function restIfMatch(req: http.IncomingMessage): string | undefined {
    const h = req.headers["if-match"]
    return h === undefined ? undefined : h.replace(/^W\//, "").replace(/^"(.*)"$/, "$1")
}

/** Refuses a write whose If-Match names another version (412); no If-Match or "*" always matches. */
export function restCheckEtag(ifMatch: string | undefined, current: string, code: string | number): void {
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== current)
        throw new RestError(412, code, `ETag ${JSON.stringify(ifMatch)} does not match the current ${JSON.stringify(current)}`)
}

/** An opaque ETag that changes whenever `content` does (base64, as IoT Hub's and DPS's look). */
export function restEtag(content: unknown): string {
    return createHash("sha256").update(JSON.stringify(content)).digest("base64").slice(0, 12)
}

/** The resource (sr) a token names, decoded; undefined if it has none. */
export function restAudience(header: string | undefined): string | undefined {
    const parsed = header ? sasParse(header) : undefined
    try {
        return parsed?.ok ? decodeURIComponent(parsed.token.sr) : undefined
    } catch {
        return undefined
    }
}

/** Checks `SharedAccessSignature sr=<resource>&sig=...&se=...&skn=<policy>` against the service key; a reason when refused. */
export function restAuthorize(
    header: string | undefined,
    expect: { resources: string[]; skn: string; what: string },
    keys: { primaryKey?: string; secondaryKey?: string },
    nowSec: number,
    skewSec: number
): string | undefined {
    if (!keys.primaryKey) return "the service endpoint has no key"
    if (!header) return "no Authorization header"
    const parsed = sasParse(header)
    if (!parsed.ok) return parsed.reason
    const audience = restAudience(header)
    if (audience === undefined) return "sr is not URL-encoded correctly"
    const resource = expect.resources.find((r) => r.toLowerCase() === audience.toLowerCase())
    if (!resource) return `sr ${JSON.stringify(audience)} names no ${expect.what} of this emulator`
    const problem = sasCheckClaims(parsed.token, { resource, skn: expect.skn }, nowSec, skewSec)
    if (problem) return problem
    return sasMatchKey(parsed.token, { primaryKey: keys.primaryKey, secondaryKey: keys.secondaryKey }) ? undefined : "signature does not match the service key"
}

/** A JSON request body must be an object (or absent). */
export function restObject(v: unknown, what: string): Record<string, any> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new RestError(400, "ArgumentInvalid", `${what} must be a JSON object`)
    return v as Record<string, any>
}
