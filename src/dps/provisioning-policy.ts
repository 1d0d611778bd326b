// What to do after each DPS answer: the register -> poll -> assigned state
// machine as a plain function, so every branch is testable without a server.
import { retryBackoffMs, retryClampAfterSec } from "../retry"
import { DpsResponse, DpsStatus } from "./provisioning"

export const DPS_DEFAULT_POLL_SEC = 3
export const DPS_MAX_RETRY_AFTER_SEC = 300
const BACKOFF_BASE_MS = 2000
const BACKOFF_MAX_MS = 60000

export const enum DpsAction {
    /** Ask for the operation's status after `delayMs`. */
    Poll = 1,
    /** Send the same request again (throttled, server error, or an answer that made no sense). */
    Retry,
    Assigned,
    /** A definitive answer about these credentials or this enrollment: retrying soon cannot change it. */
    Refused,
}

export interface DpsPoll {
    action: DpsAction.Poll
    delayMs: number
    operationId: string
    /** The status DPS gave, for the log. */
    message: string
}

export interface DpsRetry {
    action: DpsAction.Retry
    delayMs: number
    /** Why, for the log. */
    message: string
}

export interface DpsAssigned {
    action: DpsAction.Assigned
    assignedHub: string
    deviceId: string
}

export interface DpsRefused {
    action: DpsAction.Refused
    /** Why, for the log and the error. */
    message: string
}

export type DpsDecision = DpsPoll | DpsRetry | DpsAssigned | DpsRefused

function describeError(resp: DpsResponse): string {
    const code = resp.errorCode ?? ""
    const msg = resp.errorMessage ?? ""
    const text = code && msg ? code + " " + msg : code + msg
    return text.slice(0, 200)
}

function retry(why: string, retries: number, retryAfterSec: number, jitter01: number): DpsRetry {
    const serverSec = retryClampAfterSec(retryAfterSec, 0, DPS_MAX_RETRY_AFTER_SEC)
    const backoff = retryBackoffMs(retries, BACKOFF_BASE_MS, BACKOFF_MAX_MS, jitter01)
    return { action: DpsAction.Retry, delayMs: Math.max(serverSec * 1000, backoff), message: why }
}

function refused(why: string): DpsRefused {
    return { action: DpsAction.Refused, message: why }
}

/**
 * `retries` counts the consecutive retries so far (for backoff);
 * `jitter01` is a random number in [0, 1).
 */
export function dpsDecide(resp: DpsResponse, retries: number, jitter01: number): DpsDecision {
    const s = resp.status
    if (s === 429 || s >= 500) {
        const error = describeError(resp)
        const why = (s === 429 ? "throttled" : "server error") + " (" + s + (error ? " " + error : "") + ")"
        return retry(why, retries, resp.retryAfterSec, jitter01)
    }
    if (s >= 300) return refused("registration refused: " + s + " " + describeError(resp))
    const st = resp.operationStatus
    if (st === DpsStatus.None)
        return retry("malformed DPS response (status " + s + (resp.bodyError ? ", body " + resp.bodyError : "") + ")", retries, resp.retryAfterSec, jitter01)
    if (st === DpsStatus.Assigned) {
        if (resp.assignedHub === null || resp.deviceId === null)
            return retry("malformed DPS response (assigned without assignedHub/deviceId)", retries, resp.retryAfterSec, jitter01)
        return { action: DpsAction.Assigned, assignedHub: resp.assignedHub, deviceId: resp.deviceId }
    }
    if (st === DpsStatus.Failed)
        return refused("allocation failed: " + (resp.errorCode !== null ? resp.errorCode + " " : "") + (resp.errorMessage ?? "no reason given"))
    if (st === DpsStatus.Disabled) return refused("enrollment is disabled")
    if (st === DpsStatus.Assigning || st === DpsStatus.Unassigned) {
        if (resp.operationId === null) return retry("malformed DPS response (no operationId to poll)", retries, resp.retryAfterSec, jitter01)
        const sec = retryClampAfterSec(resp.retryAfterSec, DPS_DEFAULT_POLL_SEC, DPS_MAX_RETRY_AFTER_SEC)
        return { action: DpsAction.Poll, delayMs: sec * 1000, operationId: resp.operationId, message: resp.statusText }
    }
    return retry("unknown registration status (" + resp.statusText + ")", retries, resp.retryAfterSec, jitter01)
}
