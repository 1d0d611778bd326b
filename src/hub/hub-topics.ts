// IoT Hub over MQTT: user name, topics and how to read what the hub sends
// (azure-iot-protocol.md section 3). No I/O here.
import { urlEncode } from "../encoding/url"
import { queryGet } from "../encoding/query"
import { HubProperty, propertyBagDecode, propertyBagEncode } from "./property-bag"

export const HUB_API_VERSION = "2021-04-12"
export const HUB_TWIN_RESPONSE_FILTER = "$iothub/twin/res/#"
export const HUB_DESIRED_FILTER = "$iothub/twin/PATCH/properties/desired/#"
export const HUB_METHODS_FILTER = "$iothub/methods/POST/#"
const TWIN_RES_PREFIX = "$iothub/twin/res/"
const DESIRED_PREFIX = "$iothub/twin/PATCH/properties/desired/"
const METHOD_PREFIX = "$iothub/methods/POST/"

export function hubGetUsername(hubHostName: string, deviceId: string, modelId?: string): string {
    const model = modelId ? "&model-id=" + urlEncode(modelId) : ""
    return hubHostName + "/" + deviceId + "/?api-version=" + HUB_API_VERSION + model
}

export function hubGetTelemetryTopic(deviceId: string, props: HubProperty[]): string {
    return "devices/" + deviceId + "/messages/events/" + propertyBagEncode(props)
}

export function hubGetC2dFilter(deviceId: string): string {
    return "devices/" + deviceId + "/messages/devicebound/#"
}

export function hubGetTwinGetTopic(rid: string): string {
    return "$iothub/twin/GET/?$rid=" + rid
}

export function hubGetReportedPatchTopic(rid: string): string {
    return "$iothub/twin/PATCH/properties/reported/?$rid=" + rid
}

export function hubGetMethodResponseTopic(status: number, rid: string): string {
    return "$iothub/methods/res/" + status + "/?$rid=" + urlEncode(rid)
}

/** The properties of a C2D message topic `devices/{id}/messages/devicebound/{bag}`, or null for other topics. */
export function hubParseC2dTopic(deviceId: string, topic: string): HubProperty[] | null {
    const prefix = "devices/" + deviceId + "/messages/devicebound/"
    if (!topic.startsWith(prefix)) return null
    return propertyBagDecode(topic.slice(prefix.length))
}

/** What a twin topic carries (azure-sdk-for-c's az_iot_hub_client_twin_response_type). */
export const enum TwinKind {
    /** The answer to a twin GET: any status below 400 but 204. */
    Get = 1,
    /** A desired-properties update the hub pushed. */
    Desired = 2,
    /** A reported-properties patch stored (204). */
    Reported = 3,
    /** A twin request refused (400 and up). */
    RequestError = 4,
}

export interface TwinMessage {
    kind: TwinKind
    /** The answer's status; 200 for a desired update. */
    status: number
    /** The request's `$rid`; null for a desired update. */
    rid: string | null
    /** `$version` from the topic, or null when it carries none (a desired update's body `$version` decides then). */
    version: number | null
}

function version(query: string): number | null {
    const v = queryGet(query, "$version")
    const n = v === null ? -1 : parseInt(v)
    return n >= 0 ? n : null
}

/**
 * `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]` or
 * `$iothub/twin/PATCH/properties/desired/?$version={v}`; null for other topics.
 */
export function hubParseTwinTopic(topic: string): TwinMessage | null {
    if (topic.startsWith(DESIRED_PREFIX)) {
        const q = topic.indexOf("?")
        return { kind: TwinKind.Desired, status: 200, rid: null, version: q < 0 ? null : version(topic.slice(q + 1)) }
    }
    if (!topic.startsWith(TWIN_RES_PREFIX)) return null
    const rest = topic.slice(TWIN_RES_PREFIX.length)
    const slash = rest.indexOf("/")
    const q = rest.indexOf("?")
    if (slash <= 0 || q < 0) return null
    const status = parseInt(rest.slice(0, slash))
    const query = rest.slice(q + 1)
    const rid = queryGet(query, "$rid")
    if (!(status >= 100) || rid === null) return null
    const kind = status >= 400 ? TwinKind.RequestError : status === 204 ? TwinKind.Reported : TwinKind.Get
    return { kind, status, rid, version: version(query) }
}

export interface MethodRequest {
    name: string
    rid: string
}

/** `$iothub/methods/POST/{name}/?$rid={rid}`, or null for other topics. */
export function hubParseMethodTopic(topic: string): MethodRequest | null {
    if (!topic.startsWith(METHOD_PREFIX)) return null
    const rest = topic.slice(METHOD_PREFIX.length)
    const slash = rest.indexOf("/")
    const q = rest.indexOf("?")
    if (slash <= 0 || q < slash) return null
    const rid = queryGet(rest.slice(q + 1), "$rid")
    if (rid === null) return null
    return { name: rest.slice(0, slash), rid }
}
