// Direct method calls in flight: each waits for the device's response on its `$rid`, or for
// its timeout (504101), whichever comes first.
import { randomUUID } from "crypto"

export interface MethodResult {
    status: number
    payload: unknown
}

/** A failure on the hub's side of a call, with IoT Hub's error code (errorCode / 1000 = HTTP status). */
export class HubServiceError extends Error {
    readonly status: number
    constructor(
        readonly errorCode: number,
        message: string
    ) {
        super(message)
        this.status = Math.floor(errorCode / 1000)
    }
}

interface PendingCall {
    deviceId: string
    resolve: (r: MethodResult) => void
    timer: NodeJS.Timeout
}

export const METHOD_MAX_TIMEOUT_SEC = 300

export class MethodCalls {
    private readonly pending = new Map<string, PendingCall>()

    /** Registers a call; the returned promise settles with the response or rejects with 504101 after `timeoutSec`. */
    start(deviceId: string, timeoutSec: number): { rid: string; result: Promise<MethodResult> } {
        const rid = randomUUID()
        const result = new Promise<MethodResult>((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(rid)
                reject(new HubServiceError(504101, `timed out waiting for device ${deviceId} to answer within ${timeoutSec} s`))
            }, timeoutSec * 1000)
            this.pending.set(rid, { deviceId, resolve, timer })
        })
        return { rid, result }
    }

    /** A device's response; false when it answers no call of its own (unknown, late or someone else's rid). */
    respond(deviceId: string, rid: string, status: number, body: Buffer): boolean {
        const call = this.pending.get(rid)
        if (!call || call.deviceId !== deviceId) return false
        this.pending.delete(rid)
        clearTimeout(call.timer)
        call.resolve({ status, payload: parsePayload(body) })
        return true
    }
}

/** Devices answer JSON; anything else is passed on as text rather than lost. */
function parsePayload(body: Buffer): unknown {
    const text = body.toString("utf8")
    if (!text.trim()) return null
    try {
        return JSON.parse(text)
    } catch {
        return text
    }
}
