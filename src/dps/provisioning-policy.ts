// What to do after each DPS answer: the register -> poll -> assigned state
// machine as a plain function, so every branch is testable without a server.
import { retryBackoffMs, retryClampAfterSec } from "../retry"
import { DpsResponse } from "./provisioning"

export const DPS_DEFAULT_POLL_SEC = 3
export const DPS_MAX_RETRY_AFTER_SEC = 300
const BACKOFF_BASE_MS = 2000
const BACKOFF_MAX_MS = 60000

export const DPS_POLL = "poll"
/** Send the same request again (throttled, server error, or an answer that made no sense). */
export const DPS_RETRY = "retry"
export const DPS_ASSIGNED = "assigned"
/** A definitive answer about these credentials or this enrollment: retrying soon cannot change it. */
export const DPS_REFUSED = "refused"

export interface DpsDecision {
    action: string
    delayMs: number
    operationId?: string
    assignedHub?: string
    deviceId?: string
    /** Why, for the log: retry reasons and refusals. */
    message?: string
}

function describeError(body: any): string {
    if (!body) return ""
    const code = body.errorCode !== undefined ? "" + body.errorCode : ""
    const msg = typeof body.message === "string" ? body.message : typeof body.errorMessage === "string" ? body.errorMessage : ""
    const text = code && msg ? code + " " + msg : code + msg
    return text.slice(0, 200)
}

function retry(why: string, retries: number, retryAfterSec: number, jitter01: number): DpsDecision {
    const serverSec = retryClampAfterSec(retryAfterSec, 0, DPS_MAX_RETRY_AFTER_SEC)
    const backoff = retryBackoffMs(retries, BACKOFF_BASE_MS, BACKOFF_MAX_MS, jitter01)
    return { action: DPS_RETRY, delayMs: Math.max(serverSec * 1000, backoff), message: why }
}

function isName(v: any): boolean {
    return typeof v === "string" && v.length > 0 && v.length <= 128
}

/**
 * `retries` counts the consecutive retries so far (for backoff);
 * `jitter01` is a random number in [0, 1).
 */
export function dpsDecide(resp: DpsResponse, retries: number, jitter01: number): DpsDecision {
    const s = resp.status
    const body = resp.body
    if (s === 429 || s >= 500) {
        const why = (s === 429 ? "throttled" : "server error") + " (" + s + (body ? " " + describeError(body) : "") + ")"
        return retry(why, retries, resp.retryAfterSec, jitter01)
    }
    if (s >= 300) return { action: DPS_REFUSED, delayMs: 0, message: "registration refused: " + s + " " + describeError(body) }
    if (resp.bodyError !== null || !body || typeof body.status !== "string")
        return retry("malformed DPS response (status " + s + (resp.bodyError ? ", body " + resp.bodyError : "") + ")", retries, resp.retryAfterSec, jitter01)
    const state = body.registrationState
    const st = body.status
    if (st === "assigned") {
        if (!state || !isName(state.assignedHub) || !isName(state.deviceId))
            return retry("malformed DPS response (assigned without assignedHub/deviceId)", retries, resp.retryAfterSec, jitter01)
        return { action: DPS_ASSIGNED, delayMs: 0, assignedHub: state.assignedHub, deviceId: state.deviceId }
    }
    if (st === "failed") {
        const code = state && state.errorCode !== undefined ? state.errorCode + " " : ""
        const msg = state && typeof state.errorMessage === "string" ? state.errorMessage : "no reason given"
        return { action: DPS_REFUSED, delayMs: 0, message: "allocation failed: " + code + msg }
    }
    if (st === "disabled") return { action: DPS_REFUSED, delayMs: 0, message: "enrollment is disabled" }
    if (st === "assigning" || st === "unassigned") {
        if (!isName(body.operationId)) return retry("malformed DPS response (no operationId to poll)", retries, resp.retryAfterSec, jitter01)
        const sec = retryClampAfterSec(resp.retryAfterSec, DPS_DEFAULT_POLL_SEC, DPS_MAX_RETRY_AFTER_SEC)
        return { action: DPS_POLL, delayMs: sec * 1000, operationId: body.operationId, message: st }
    }
    return retry("unknown registration status (" + ("" + st).slice(0, 32) + ")", retries, resp.retryAfterSec, jitter01)
}
