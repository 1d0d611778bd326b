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

/** The properties of a C2D message topic `devices/{id}/messages/devicebound/{bag}`, or null. */
export function hubParseC2dTopic(deviceId: string, topic: string): HubProperty[] {
    const prefix = "devices/" + deviceId + "/messages/devicebound/"
    if (!topic.startsWith(prefix)) return null
    return propertyBagDecode(topic.slice(prefix.length))
}

export interface TwinResponse {
    status: number
    rid: string
    /** `$version` of a reported patch reply, -1 when absent. */
    version: number
}

/** `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`, or null for other topics. */
export function hubParseTwinResponseTopic(topic: string): TwinResponse {
    if (!topic.startsWith(TWIN_RES_PREFIX)) return null
    const rest = topic.slice(TWIN_RES_PREFIX.length)
    const slash = rest.indexOf("/")
    const q = rest.indexOf("?")
    if (slash <= 0 || q < 0) return null
    const status = parseInt(rest.slice(0, slash))
    const rid = queryGet(rest.slice(q + 1), "$rid")
    const v = queryGet(rest.slice(q + 1), "$version")
    if (!(status >= 100) || rid === null) return null
    return { status, rid, version: v === null ? -1 : parseInt(v) }
}

export interface DesiredUpdate {
    /** `$version` from the topic, or -1 when the topic carries none (the body's `$version` decides then). */
    version: number
}

/** A desired-properties update topic `$iothub/twin/PATCH/properties/desired/?$version={v}`, or null for other topics. */
export function hubParseDesiredTopic(topic: string): DesiredUpdate {
    if (!topic.startsWith(DESIRED_PREFIX)) return null
    const q = topic.indexOf("?")
    const v = q < 0 ? null : queryGet(topic.slice(q + 1), "$version")
    const n = v === null ? -1 : parseInt(v)
    return { version: n >= 0 ? n : -1 }
}

export interface MethodRequest {
    name: string
    rid: string
}

/** `$iothub/methods/POST/{name}/?$rid={rid}`, or null. */
export function hubParseMethodTopic(topic: string): MethodRequest {
    if (!topic.startsWith(METHOD_PREFIX)) return null
    const rest = topic.slice(METHOD_PREFIX.length)
    const slash = rest.indexOf("/")
    const q = rest.indexOf("?")
    if (slash <= 0 || q < slash) return null
    const rid = queryGet(rest.slice(q + 1), "$rid")
    if (rid === null) return null
    return { name: rest.slice(0, slash), rid }
}
