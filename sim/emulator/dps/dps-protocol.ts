// DPS over MQTT as the service reads and writes it (azure-iot-protocol.md section 1):
// user names, request topics, response topics and bodies. Plain functions, no state.
import { randomBytes, randomUUID } from "crypto"
import { parseQuery } from "../transport/topic-query"

export const DPS_RESPONSE_FILTER = "$dps/registrations/res/#"
const REGISTER_PREFIX = "$dps/registrations/PUT/iotdps-register/"
const POLL_PREFIX = "$dps/registrations/GET/iotdps-get-operationstatus/"

export interface DpsUsername {
    idScope: string
    registrationId: string
    apiVersion: string
}

export type DpsRequest = { kind: "register"; rid: string } | { kind: "poll"; rid: string; operationId?: string }

/** `{idScope}/registrations/{registrationId}/api-version=...[&k=v...]`; other keys are ignored. */
export function dpsParseUsername(username: string): DpsUsername | undefined {
    const m = /^([^/]+)\/registrations\/([^/]+)\/\??(.*)$/.exec(username)
    if (!m) return undefined
    const params = parseQuery(m[3])
    const apiVersion = params.get("api-version")
    if (!apiVersion) return undefined
    return { idScope: m[1], registrationId: m[2], apiVersion }
}

function decode(s: string): string | undefined {
    try {
        return decodeURIComponent(s)
    } catch {
        return undefined
    }
}

/** The register or poll request a topic names, or undefined for any other topic (or one without `$rid`). */
export function dpsParseRequestTopic(topic: string): DpsRequest | undefined {
    const prefix = topic.startsWith(REGISTER_PREFIX) ? REGISTER_PREFIX : topic.startsWith(POLL_PREFIX) ? POLL_PREFIX : undefined
    if (!prefix || topic[prefix.length] !== "?") return undefined
    const q = parseQuery(topic.slice(prefix.length + 1))
    const rid = q.get("$rid")
    if (!rid) return undefined
    if (prefix === REGISTER_PREFIX) return { kind: "register", rid }
    const op = q.get("operationId")
    return { kind: "poll", rid, operationId: op === undefined ? undefined : decode(op) }
}

export function dpsResponseTopic(status: number, rid: string, retryAfterSec?: number): string {
    return `$dps/registrations/res/${status}/?$rid=${rid}` + (retryAfterSec === undefined ? "" : `&retry-after=${retryAfterSec}`)
}

/** The error body of 4xx/5xx answers; `errorCode / 1000` is the HTTP status. */
export function dpsErrorBody(errorCode: number, message: string, now: Date) {
    return { errorCode, trackingId: randomUUID(), message, timestampUtc: now.toISOString() }
}

/** Shaped like DPS's own ids (`4.<hex>.<uuid>`); opaque to clients. */
export function dpsNewOperationId(): string {
    return `4.${randomBytes(8).toString("hex")}.${randomUUID()}`
}

export function dpsNewEtag(): string {
    return Buffer.from(JSON.stringify(randomUUID())).toString("base64")
}
