// IoT Hub over MQTT as the service reads and writes it (azure-iot-protocol.md section 3):
// user names, the topics devices publish and subscribe to, and the topics the hub publishes.
// Plain functions, no state.
import { parseQuery } from "../transport/topic-query"

export interface HubUsername {
    /** The host as written, without any `:port`. */
    hostName: string
    deviceId: string
    moduleId?: string
    apiVersion?: string
    modelId?: string
}

export type HubRequest =
    | { kind: "telemetry"; bag: string }
    | { kind: "twin-get"; rid: string }
    | { kind: "twin-reported"; rid: string }
    | { kind: "method-response"; rid: string; status: number }

export type HubSubscription = "c2d" | "twin-responses" | "twin-desired" | "methods"

export const HUB_MAX_SUBSCRIPTIONS = 5

/**
 * `host[:port]/{deviceId}[/{moduleId}]/[?]api-version=...[&k=v]`; query values may be encoded. As edgeHub
 * reads it (Azure/iotedge IdentityFactory): a third segment is a module only when it holds no `=`. Without
 * `?` the parameters start at the first segment holding `=` and older SDKs separate them with `/` too
 * (`host/dev/api-version=2016-11-14/DeviceClientType=Microsoft.Azure.Devices.Client/1.2.2`).
 */
export function hubParseUsername(username: string): HubUsername | undefined {
    const q = username.indexOf("?")
    const parts = (q < 0 ? username : username.slice(0, q)).split("/")
    const firstParam = q < 0 ? parts.findIndex((s) => s.includes("=")) : -1
    const segments = firstParam < 0 ? parts : parts.slice(0, firstParam)
    if (segments.length > 2 && segments[segments.length - 1] === "") segments.pop()
    const query =
        q >= 0
            ? username.slice(q + 1)
            : firstParam < 0
              ? ""
              : parts
                    .slice(firstParam)
                    .join("/")
                    .replace(/\/(?=[A-Za-z][A-Za-z-]*=)/g, "&")
    if (segments.length < 2 || segments.length > 3 || segments.some((s) => !s)) return undefined
    const hostName = /^(.*?)(?::\d{1,5})?$/.exec(segments[0])![1]
    if (!hostName) return undefined
    const params = parseQuery(query)
    return {
        hostName,
        deviceId: segments[1],
        moduleId: segments[2],
        apiVersion: decodeOr(params.get("api-version")),
        modelId: decodeOr(params.get("model-id")),
    }
}

function decodeOr(v: string | undefined): string | undefined {
    if (v === undefined) return undefined
    try {
        return decodeURIComponent(v)
    } catch {
        return v
    }
}

function ridOf(query: string): string | undefined {
    return parseQuery(query).get("$rid") || undefined
}

/** What a device's publish asks for, or undefined for a topic the hub does not serve. */
export function hubParseRequestTopic(topic: string, deviceId: string): HubRequest | undefined {
    const events = `devices/${deviceId}/messages/events`
    if (topic === events) return { kind: "telemetry", bag: "" }
    if (topic.startsWith(events + "/")) return { kind: "telemetry", bag: topic.slice(events.length + 1) }
    let m = /^\$iothub\/twin\/(GET|PATCH\/properties\/reported)\/\?(.*)$/.exec(topic)
    if (m) {
        const rid = ridOf(m[2])
        if (!rid) return undefined
        return m[1] === "GET" ? { kind: "twin-get", rid } : { kind: "twin-reported", rid }
    }
    m = /^\$iothub\/methods\/res\/(\d{3})\/\?(.*)$/.exec(topic)
    if (m) {
        const rid = ridOf(m[2])
        return rid ? { kind: "method-response", rid, status: Number(m[1]) } : undefined
    }
    return undefined
}

/** Which hub feature a subscription filter asks for; undefined for filters the hub does not serve. */
export function hubSubscriptionKind(filter: string, deviceId: string): HubSubscription | undefined {
    if (filter === `devices/${deviceId}/messages/devicebound/#` || filter === "devices/+/messages/devicebound/#") return "c2d"
    if (filter === "$iothub/twin/res/#") return "twin-responses"
    if (filter === "$iothub/twin/PATCH/properties/desired/#") return "twin-desired"
    if (filter === "$iothub/methods/POST/#") return "methods"
    return undefined
}

export function hubTwinResponseTopic(status: number, rid: string, version?: number): string {
    return `$iothub/twin/res/${status}/?$rid=${rid}` + (version === undefined ? "" : `&$version=${version}`)
}

export function hubDesiredPatchTopic(version: number): string {
    return `$iothub/twin/PATCH/properties/desired/?$version=${version}`
}

export function hubMethodRequestTopic(name: string, rid: string): string {
    return `$iothub/methods/POST/${name}/?$rid=${rid}`
}

export function hubC2dTopic(deviceId: string, bag: string): string {
    return `devices/${deviceId}/messages/devicebound/${bag}`
}
