// DPS over MQTT: what the device sends and how it reads the answers
// (azure-iot-protocol.md section 1). No I/O here.
import { urlDecode, urlEncode } from "../encoding/url"
import { jsonQuote } from "../encoding/json"
import { queryGet } from "../encoding/query"
import { JsonParsed } from "../encoding/json-bounds"

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

/** The operation status in a DPS answer (azure-sdk-for-c's az_iot_provisioning_client_operation_status). */
export const enum DpsStatus {
    /** The body carried no status string (none, not JSON, or refused: see bodyError). */
    None = 0,
    /** A status string this firmware does not know (statusText has it). */
    Unknown = 1,
    Unassigned = 2,
    Assigning = 3,
    Assigned = 4,
    Failed = 5,
    Disabled = 6,
}

/** The topic of a DPS answer: `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`. */
export interface DpsResponseTopic {
    status: number
    rid: string | null
    /** Seconds, or -1 when the server sent none. */
    retryAfterSec: number
}

/** A DPS answer, topic and body read into typed fields (az_iot_provisioning_client_register_response). */
export interface DpsResponse extends DpsResponseTopic {
    operationStatus: DpsStatus
    /** The body's status as sent (at most 32 characters), or null. */
    statusText: string | null
    /** Each name below is null unless it is a string of 1..128 characters. */
    operationId: string | null
    assignedHub: string | null
    deviceId: string | null
    /**
     * The error an answer carries: at the top of an error answer (status 300 and up), in
     * registrationState otherwise. errorCode is whatever was sent, as text; null when absent.
     */
    errorCode: string | null
    errorMessage: string | null
    /** Why the body was refused (too large, too deep, not JSON), or null. */
    bodyError: string | null
}

/** Parses a DPS answer's topic; null for other topics or a $rid that is not the device's. */
export function dpsParseResponseTopic(topic: string): DpsResponseTopic | null {
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
    let rid: string | null = null
    try {
        rid = ridRaw === null ? null : urlDecode(ridRaw)
    } catch (e) {
        return null
    }
    const after = queryGet(query, "retry-after")
    const n = after === null ? -1 : parseInt(after)
    const retryAfterSec = n >= 0 ? n : -1
    return { status, rid, retryAfterSec }
}

const STATUS_NAMES = ["unassigned", "assigning", "assigned", "failed", "disabled"]

function text(v: any): string | null {
    return typeof v === "string" ? v : null
}

function name(v: any): string | null {
    return typeof v === "string" && v.length > 0 && v.length <= 128 ? v : null
}

/** Reads an answer's body (`body` null for an empty payload); the JSON is untyped only in here. */
export function dpsParseResponseBody(topic: DpsResponseTopic, body: JsonParsed | null): DpsResponse {
    // Whatever JSON came (null, a number, an array), a missing field reads as undefined.
    const b: any = body !== null && body.error === null && body.value ? body.value : {}
    const state: any = b.registrationState || {}
    const err: any = topic.status >= 300 ? b : state
    const st = text(b.status)
    return {
        status: topic.status,
        rid: topic.rid,
        retryAfterSec: topic.retryAfterSec,
        // DpsStatus counts on STATUS_NAMES' order: not found (-1) is Unknown.
        operationStatus: st === null ? DpsStatus.None : STATUS_NAMES.indexOf(st) + 2,
        statusText: st === null ? null : st.slice(0, 32),
        operationId: name(b.operationId),
        assignedHub: name(state.assignedHub),
        deviceId: name(state.deviceId),
        errorCode: err.errorCode !== undefined ? "" + err.errorCode : null,
        errorMessage: text(topic.status >= 300 && typeof err.message === "string" ? err.message : err.errorMessage),
        bodyError: body !== null ? body.error : null,
    }
}
