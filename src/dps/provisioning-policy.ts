// What to do after each DPS answer: the register -> poll -> assigned state
// machine as a plain function, so every branch is testable without a server.
import { retryBackoffMs, retryClampAfterSec } from "../retry"
import { DpsResponse } from "./provisioning"

export const DPS_DEFAULT_POLL_SEC = 3
export const DPS_MAX_RETRY_AFTER_SEC = 300
const BACKOFF_BASE_MS = 2000
const BACKOFF_MAX_MS = 60000

export const DPS_POLL = "poll"
/** Send the same request again (throttled or server error). */
export const DPS_RETRY = "retry"
export const DPS_ASSIGNED = "assigned"
export const DPS_FAIL = "fail"

export interface DpsDecision {
    action: string
    delayMs: number
    operationId?: string
    assignedHub?: string
    deviceId?: string
    /** Why, for the log: retry reasons and the final error. */
    message?: string
}

function describeError(body: any): string {
    if (!body) return ""
    const code = body.errorCode !== undefined ? "" + body.errorCode : ""
    const msg = body.message || body.errorMessage || ""
    return code && msg ? code + " " + msg : code + msg
}

/**
 * `retries` counts the consecutive 429/5xx answers so far (for backoff);
 * `jitter01` is a random number in [0, 1).
 */
export function dpsDecide(resp: DpsResponse, retries: number, jitter01: number): DpsDecision {
    const s = resp.status
    const body = resp.body
    if (s === 429 || s >= 500) {
        const serverSec = retryClampAfterSec(resp.retryAfterSec, 0, DPS_MAX_RETRY_AFTER_SEC)
        const backoff = retryBackoffMs(retries, BACKOFF_BASE_MS, BACKOFF_MAX_MS, jitter01)
        const delayMs = Math.max(serverSec * 1000, backoff)
        const why = s === 429 ? "throttled" : "server error"
        return { action: DPS_RETRY, delayMs, message: why + " (" + s + (body ? " " + describeError(body) : "") + ")" }
    }
    if (s >= 300)
        return { action: DPS_FAIL, delayMs: 0, message: "registration refused: " + s + " " + describeError(body) }
    if (!body || typeof body.status !== "string")
        return { action: DPS_FAIL, delayMs: 0, message: "malformed DPS response (status " + s + ")" }
    const state = body.registrationState
    const st = body.status
    if (st === "assigned") {
        if (!state || !state.assignedHub || !state.deviceId)
            return { action: DPS_FAIL, delayMs: 0, message: "assigned without assignedHub/deviceId" }
        return { action: DPS_ASSIGNED, delayMs: 0, assignedHub: state.assignedHub, deviceId: state.deviceId }
    }
    if (st === "failed") {
        const code = state && state.errorCode !== undefined ? state.errorCode + " " : ""
        const msg = state && state.errorMessage ? state.errorMessage : "no reason given"
        return { action: DPS_FAIL, delayMs: 0, message: "allocation failed: " + code + msg }
    }
    if (st === "disabled") return { action: DPS_FAIL, delayMs: 0, message: "enrollment is disabled" }
    if (st === "assigning" || st === "unassigned") {
        if (!body.operationId) return { action: DPS_FAIL, delayMs: 0, message: "no operationId to poll" }
        const sec = retryClampAfterSec(resp.retryAfterSec, DPS_DEFAULT_POLL_SEC, DPS_MAX_RETRY_AFTER_SEC)
        return { action: DPS_POLL, delayMs: sec * 1000, operationId: body.operationId, message: st }
    }
    return { action: DPS_FAIL, delayMs: 0, message: "unknown registration status " + st }
}
