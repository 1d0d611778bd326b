// What the emulator reports, one typed event per step, and how each reads as a log line.
// Events never carry keys, tokens or signatures.
import type { DeviceAuthenticationType, TelemetryMessage } from "./state/hub-registry"

export interface EmulatorEvents {
    "dps.connect": {
        remote: string
        registrationId: string
        enrollmentId: string
        enrollmentKind: "individual" | "group"
        attestation: "symmetricKey" | "x509"
        /** symmetricKey: the key that signed the token. */
        key?: "primary" | "secondary"
        /** x509: the leaf certificate's subject CN and SHA-1 thumbprint. */
        commonName?: string
        thumbprint?: string
        apiVersion: string
    }
    /** Bad credentials; `answer` says how the client is told (dps.authFailure). */
    "dps.refused": { remote: string; clientId?: string; answer: "CONNACK 5" | "401 at registration" | "401"; reason: string }
    /** A CA certificate changed on DPS's service side (upload, proof of possession, delete). */
    /** An enrollment created, replaced or deleted through DPS's service API. */
    "dps.enrollment": { enrollmentId: string; kind: "individual" | "group"; change: "created" | "updated" | "deleted" }
    "dps.certificate": { name: string; change: "uploaded" | "verification code issued" | "verified" | "deleted"; isVerified: boolean }
    "dps.register": { registrationId: string; rid: string; payload?: unknown }
    "dps.assigning": { registrationId: string; operationId: string; retryAfter: number }
    "dps.assigned": { registrationId: string; deviceId: string; hub: string; enrollmentGroupId?: string }
    "dps.failed": { registrationId: string; status: "failed" | "disabled"; errorCode?: number; errorMessage?: string }
    "dps.throttled": { registrationId: string; status: number; retryAfter: number }
    "dps.unavailable": { registrationId: string; status: number; retryAfter: number }
    "dps.rejected": { registrationId: string; status: number; errorCode: number; message: string }
    "hub.connect": {
        remote: string
        deviceId: string
        hub: string
        authenticationType: DeviceAuthenticationType
        /** sas: the key that signed the token. */
        key?: "primary" | "secondary"
        /** sas: the shared access policy whose key signed, when not the device's own. */
        policy?: string
        /** X.509: the SHA-1 thumbprint of the certificate presented. */
        thumbprint?: string
        apiVersion?: string
        modelId?: string
        /** A clean=0 session found its stored subscriptions. */
        sessionPresent: boolean
        /** The IoT Edge gateway the device connected through. */
        via?: string
    }
    /** CONNACK 5: bad credentials, unknown or disabled device. */
    "hub.refused": { remote: string; clientId?: string; deviceId?: string; reason: string }
    "hub.telemetry": TelemetryMessage
    "hub.twin.get": { deviceId: string }
    "hub.twin.reported": { deviceId: string; patch: object; version: number }
    /** A desired-properties update from the service; `delivered` when the device was listening. */
    "hub.twin.desired": { deviceId: string; patch: object; version: number; delivered: boolean }
    "hub.c2d.queued": { deviceId: string; messageId: string; pending: number }
    "hub.c2d.sent": { deviceId: string; messageId: string; deliveryCount: number }
    "hub.c2d.completed": { deviceId: string; messageId: string }
    "hub.method.request": { deviceId: string; methodName: string; rid: string; timeoutSec: number }
    /** The device's status, or 504 when it did not answer in time. */
    "hub.method.response": { deviceId: string; methodName: string; status: number }
    "hub.device": { deviceId: string; hub: string; change: "created" | "enabled" | "disabled" | "deleted" | "parent set" | "credentials updated" }
    /** CONNACK 5 at a gateway: bad credentials, or not a child of its edge device. */
    "edge.refused": { edgeId: string; remote: string; clientId?: string; deviceId?: string; reason: string }
    /** The uplink switch (service side); `pending`: messages stored, delivered right after it comes up. */
    "edge.uplink": { edgeId: string; up: boolean; pending: number }
    /** A leaf's message kept while the uplink is down. */
    "edge.stored": { edgeId: string; deviceId: string; pending: number }
    /** A stored message that never reaches the hub: past the TTL, pushed out of a full store, or its device deleted. */
    "edge.dropped": { edgeId: string; deviceId: string; receivedTimeUtc: string; reason: string }
    /** An Event Grid subscription validated, failed its handshake, or dead-lettered an event. */
    "eventgrid.subscription": { subscription: string; what: string }
    "service.request": { remote: string; method: string; path: string; status: number }
    /** A connection closed for a protocol violation, a limit, or a failed TLS handshake. */
    "connection.error": { face: string; remote: string; clientId?: string; reason: string }
    /** Every closed MQTT connection, with the bytes each way: MQTT (inside TLS) and on the wire (TCP, TLS included). */
    "connection.close": {
        face: string
        remote: string
        clientId?: string
        reason: string
        bytesIn: number
        bytesOut: number
        wireBytesIn: number
        wireBytesOut: number
    }
    "dps.request": { remote: string; method: string; path: string; status: number }
}

export type EmulatorEventName = keyof EmulatorEvents

export type Emit = <K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]) => void

/** One readable line per event, for the console. */
export function describeEvent<K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]): string {
    const e = data as any
    const who = e.registrationId ?? e.deviceId ?? e.clientId ?? e.remote
    switch (name) {
        case "dps.connect":
            return `dps: ${who} connected (${e.enrollmentKind} enrollment ${e.enrollmentId}, ${e.attestation === "x509" ? `X.509 CN=${e.commonName} SHA-1 ${e.thumbprint}` : `${e.key} key${e.policy ? ` of policy ${e.policy}` : ""}`}, api-version ${e.apiVersion})`
        case "dps.refused":
            return `dps: refused ${who} (${e.answer}): ${e.reason}`
        case "dps.enrollment":
            return `dps: ${e.kind === "group" ? "enrollment group" : "enrollment"} ${e.enrollmentId} ${e.change} through the service API`
        case "dps.certificate":
            return `dps: CA certificate ${e.name} ${e.change} (verified: ${e.isVerified})`
        case "dps.register":
            return `dps: ${who} registers` + (e.payload !== undefined ? ` with payload ${JSON.stringify(e.payload)}` : "")
        case "dps.assigning":
            return `dps: ${who} assigning (retry after ${e.retryAfter} s)`
        case "dps.assigned":
            return `dps: ${who} assigned to ${e.hub} as ${e.deviceId}`
        case "dps.failed":
            return e.status === "disabled" ? `dps: ${who} enrollment is disabled` : `dps: ${who} allocation failed: ${e.errorCode} ${e.errorMessage}`
        case "dps.throttled":
            return `dps: ${who} throttled (429, retry after ${e.retryAfter} s)`
        case "dps.unavailable":
            return `dps: ${who} answered ${e.status} (injected server error, retry after ${e.retryAfter} s)`
        case "dps.rejected":
            return `dps: ${who} request rejected: ${e.status} ${e.errorCode} ${e.message}`
        case "hub.connect":
            return `hub: ${who} connected to ${e.hub}${e.via ? ` through ${e.via}` : ""} (${e.authenticationType === "sas" ? `${e.key} key` : `X.509 ${e.authenticationType} SHA-1 ${e.thumbprint}`}${e.modelId ? `, model ${e.modelId}` : ""}${e.sessionPresent ? ", session resumed" : ""})`
        case "hub.refused":
            return `hub: refused ${who} (CONNACK 5): ${e.reason}`
        case "hub.telemetry": {
            const text = e.body.toString("utf8")
            const props = Object.keys(e.properties).length ? ` ${JSON.stringify(e.properties)}` : ""
            return `hub: ${who} telemetry #${e.sequenceNumber}${e.via ? ` via ${e.via}` : ""}${props}: ${text.length > 200 ? text.slice(0, 200) + "..." : text}`
        }
        case "hub.twin.get":
            return `hub: ${who} reads its twin`
        case "hub.twin.reported":
            return `hub: ${who} reported ${JSON.stringify(e.patch)} (version ${e.version})`
        case "hub.twin.desired":
            return `hub: desired ${JSON.stringify(e.patch)} for ${who} (version ${e.version}, ${e.delivered ? "pushed" : "device not listening"})`
        case "hub.c2d.queued":
            return `hub: C2D ${e.messageId} queued for ${who} (${e.pending} pending)`
        case "hub.c2d.sent":
            return `hub: C2D ${e.messageId} sent to ${who} (delivery ${e.deliveryCount})`
        case "hub.c2d.completed":
            return `hub: C2D ${e.messageId} completed by ${who}`
        case "hub.method.request":
            return `hub: method ${e.methodName} called on ${who} (timeout ${e.timeoutSec} s)`
        case "hub.method.response":
            return `hub: method ${e.methodName} on ${who} answered ${e.status}`
        case "hub.device":
            return `hub: device ${who} ${e.change}`
        case "edge.refused":
            return `edge ${e.edgeId}: refused ${who} (CONNACK 5): ${e.reason}`
        case "edge.uplink":
            return `edge ${e.edgeId}: uplink ${e.up ? "up" : "down"}${e.pending ? ` (${e.pending} stored messages)` : ""}`
        case "edge.stored":
            return `edge ${e.edgeId}: stored a message from ${who} (${e.pending} pending)`
        case "edge.dropped":
            return `edge ${e.edgeId}: dropped a message from ${who} received ${e.receivedTimeUtc}: ${e.reason}`
        case "service.request":
            return `service: ${e.method} ${e.path} from ${e.remote}: ${e.status}`
        case "eventgrid.subscription":
            return `event grid: subscription ${e.subscription} ${e.what}`
        case "connection.error":
            return `${e.face}: connection ${e.remote}${e.clientId ? ` (${e.clientId})` : ""} closed: ${e.reason}`
        case "connection.close":
            return `${e.face}: ${e.clientId ?? e.remote} disconnected (${e.reason}; MQTT ${e.bytesIn} B in, ${e.bytesOut} B out; wire ${e.wireBytesIn} B in, ${e.wireBytesOut} B out)`
        case "dps.request":
            return `dps: ${e.method} ${e.path} from ${e.remote}: ${e.status}`
    }
    return `${name}: ${JSON.stringify(data)}`
}
