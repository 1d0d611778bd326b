// Direct methods the device answers. Plain function: request in, response out.
import { jsonQuote } from "../encoding/json"
import { twinIntervalIsValid } from "./device-twin"

export interface DeviceStatus {
    firmwareVersion: string
    intervalSec: number
    uptimeSec: number
    messagesSent: number
    queued: number
    c2dReceived: number
}

export interface MethodResult {
    status: number
    body: string
    /** New telemetry interval to apply, or -1. */
    newIntervalSec: number
}

/** Longest method name this device answers by name; anything longer is none of its methods. */
export const METHOD_NAME_MAX = 64

/** `request`: the JSON payload already parsed (within limits), or undefined when it was refused. */
export function methodHandle(name: string, request: any, s: DeviceStatus): MethodResult {
    if (name.length > METHOD_NAME_MAX) return { status: 404, body: '{"error":"unknown method (' + name.length + '-character name)"}', newIntervalSec: -1 }
    if (name === "setTelemetryInterval") {
        const req = request
        const v = req !== null && typeof req === "object" ? req.seconds : req
        if (!twinIntervalIsValid(v)) return { status: 400, body: '{"error":"expected {\\"seconds\\": 1..3600}"}', newIntervalSec: -1 }
        return { status: 200, body: '{"telemetryInterval":' + v + "}", newIntervalSec: v }
    }
    if (name === "getDeviceState") {
        const body =
            '{"firmwareVersion":' +
            jsonQuote(s.firmwareVersion) +
            ',"telemetryInterval":' +
            s.intervalSec +
            ',"uptimeSec":' +
            s.uptimeSec +
            ',"messagesSent":' +
            s.messagesSent +
            ',"queued":' +
            s.queued +
            ',"c2dReceived":' +
            s.c2dReceived +
            "}"
        return { status: 200, body, newIntervalSec: -1 }
    }
    return { status: 404, body: '{"error":' + jsonQuote("unknown method: " + name) + "}", newIntervalSec: -1 }
}
