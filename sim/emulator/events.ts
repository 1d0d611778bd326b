// What the emulator reports, one typed event per step, and how each reads as a log line.
// Events never carry keys, tokens or signatures.

export interface EmulatorEvents {
    "dps.connect": {
        remote: string
        registrationId: string
        enrollmentId: string
        enrollmentKind: "individual" | "group"
        key: "primary" | "secondary"
        apiVersion: string
    }
    /** Bad credentials; `answer` says how the client is told (dps.authFailure). */
    "dps.refused": { remote: string; clientId?: string; answer: "CONNACK 5" | "401 at registration"; reason: string }
    "dps.register": { registrationId: string; rid: string; payload?: unknown }
    "dps.assigning": { registrationId: string; operationId: string; retryAfter: number }
    "dps.assigned": { registrationId: string; deviceId: string; hub: string; enrollmentGroupId?: string }
    "dps.failed": { registrationId: string; status: "failed" | "disabled"; errorCode?: number; errorMessage?: string }
    "dps.throttled": { registrationId: string; status: number; retryAfter: number }
    "dps.unavailable": { registrationId: string; status: number; retryAfter: number }
    "dps.rejected": { registrationId: string; status: number; errorCode: number; message: string }
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
    "time.request": { remote: string; method: string }
}

export type EmulatorEventName = keyof EmulatorEvents

export type Emit = <K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]) => void

/** One readable line per event, for the console. */
export function describeEvent<K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]): string {
    const e = data as any
    const who = e.registrationId ?? e.clientId ?? e.remote
    switch (name) {
        case "dps.connect":
            return `dps: ${who} connected (${e.enrollmentKind} enrollment ${e.enrollmentId}, ${e.key} key, api-version ${e.apiVersion})`
        case "dps.refused":
            return `dps: refused ${who} (${e.answer}): ${e.reason}`
        case "dps.register":
            return `dps: ${who} registers` + (e.payload !== undefined ? ` with payload ${JSON.stringify(e.payload)}` : "")
        case "dps.assigning":
            return `dps: ${who} assigning (retry after ${e.retryAfter} s)`
        case "dps.assigned":
            return `dps: ${who} assigned to ${e.hub} as ${e.deviceId}`
        case "dps.failed":
            return e.status === "disabled"
                ? `dps: ${who} enrollment is disabled`
                : `dps: ${who} allocation failed: ${e.errorCode} ${e.errorMessage}`
        case "dps.throttled":
            return `dps: ${who} throttled (429, retry after ${e.retryAfter} s)`
        case "dps.unavailable":
            return `dps: ${who} answered ${e.status} (injected server error, retry after ${e.retryAfter} s)`
        case "dps.rejected":
            return `dps: ${who} request rejected: ${e.status} ${e.errorCode} ${e.message}`
        case "connection.error":
            return `${e.face}: connection ${e.remote}${e.clientId ? ` (${e.clientId})` : ""} closed: ${e.reason}`
        case "connection.close":
            return `${e.face}: ${e.clientId ?? e.remote} disconnected (${e.reason}; MQTT ${e.bytesIn} B in, ${e.bytesOut} B out; wire ${e.wireBytesIn} B in, ${e.wireBytesOut} B out)`
        case "time.request":
            return `time: ${e.method} from ${e.remote}`
    }
    return `${name}: ${JSON.stringify(data)}`
}
