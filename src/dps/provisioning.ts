// DPS over MQTT: what the device sends and how it reads the answers
// (azure-iot-protocol.md section 1). No I/O here.
import { urlDecode, urlEncode } from "../encoding/url"
import { jsonQuote } from "../encoding/json"
import { queryGet } from "../encoding/query"

export const DPS_API_VERSION = "2019-03-31"
export const DPS_DEFAULT_HOST = "global.azure-devices-provisioning.net"
export const DPS_SUBSCRIBE_TOPIC = "$dps/registrations/res/#"
const RESPONSE_PREFIX = "$dps/registrations/res/"
const MAX_RID = 64

export function dpsGetUsername(idScope: string, registrationId: string): string {
    return idScope + "/registrations/" + registrationId + "/api-version=" + DPS_API_VERSION
}

export function dpsGetRegisterTopic(rid: string): string {
    return "$dps/registrations/PUT/iotdps-register/?$rid=" + rid
}

export function dpsGetPollTopic(rid: string, operationId: string): string {
    return "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=" + rid + "&operationId=" + urlEncode(operationId)
}

/**
 * `{"registrationId":...,"payload":...}`. `payloadJson` is custom JSON text passed through;
 * a model id alone becomes `{"modelId":...}` (IoT Plug and Play / IoT Central).
 */
export function dpsBuildRegisterBody(registrationId: string, modelId?: string, payloadJson?: string): string {
    let payload = payloadJson
    if (!payload && modelId) payload = '{"modelId":' + jsonQuote(modelId) + "}"
    const tail = payload ? ',"payload":' + payload : ""
    return '{"registrationId":' + jsonQuote(registrationId) + tail + "}"
}

export interface DpsResponse {
    status: number
    rid: string
    /** Seconds, or -1 when the server sent none. */
    retryAfterSec: number
    /** The JSON body, or null when there was none or it was refused (see bodyError). */
    body: any
    /** Why the body was refused (too large, too deep, not JSON), or null. */
    bodyError: string | null
}

/** Parses `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`; null for other topics. The body is the caller's to add. */
export function dpsParseResponseTopic(topic: string): DpsResponse {
    if (!topic.startsWith(RESPONSE_PREFIX)) return null
    const rest = topic.slice(RESPONSE_PREFIX.length)
    const slash = rest.indexOf("/")
    if (slash <= 0) return null
    const status = parseInt(rest.slice(0, slash))
    if (!(status >= 100 && status <= 599)) return null
    const q = rest.indexOf("?", slash)
    const query = q >= 0 ? rest.slice(q + 1) : ""
    const ridRaw = queryGet(query, "$rid")
    // The device's own ids are short numbers: a long one is not an answer to it, and not worth decoding.
    if (ridRaw !== null && ridRaw.length > MAX_RID) return null
    let rid: string = null
    try {
        rid = ridRaw === null ? null : urlDecode(ridRaw)
    } catch (e) {
        return null
    }
    const after = queryGet(query, "retry-after")
    const n = after === null ? -1 : parseInt(after)
    const retryAfterSec = n >= 0 ? n : -1
    return { status, rid, retryAfterSec, body: null, bodyError: null }
}
