// DPS over MQTT: what the device sends and how it reads the answers
// (azure-iot-protocol.md section 1). No I/O here.
import { urlDecode, urlEncode } from "../encoding/url"
import { jsonQuote } from "../encoding/json"
import { queryGet } from "../encoding/query"

export const DPS_API_VERSION = "2019-03-31"
export const DPS_DEFAULT_HOST = "global.azure-devices-provisioning.net"
export const DPS_SUBSCRIBE_TOPIC = "$dps/registrations/res/#"
const RESPONSE_PREFIX = "$dps/registrations/res/"

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
    body: any
}

/** Parses `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]` plus its JSON body; null for other topics. */
export function dpsParseResponse(topic: string, payload: Buffer): DpsResponse {
    if (!topic.startsWith(RESPONSE_PREFIX)) return null
    const rest = topic.slice(RESPONSE_PREFIX.length)
    const slash = rest.indexOf("/")
    if (slash <= 0) return null
    const status = parseInt(rest.slice(0, slash))
    if (!(status >= 100 && status <= 599)) return null
    const q = rest.indexOf("?", slash)
    const query = q >= 0 ? rest.slice(q + 1) : ""
    const ridRaw = queryGet(query, "$rid")
    const rid = ridRaw === null ? null : urlDecode(ridRaw)
    const after = queryGet(query, "retry-after")
    const n = after === null ? -1 : parseInt(after)
    const retryAfterSec = n >= 0 ? n : -1
    let body: any = null
    if (payload.length > 0) {
        try {
            body = JSON.parse(payload.toString("utf-8"))
        } catch (e) {
            body = null
        }
    }
    return { status, rid, retryAfterSec, body }
}
