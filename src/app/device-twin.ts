// Desired -> reported property logic, IoT Plug and Play style acknowledgements
// (`{"prop":{"value":v,"ac":200,"av":desiredVersion,"ad":"..."}}`).
import { jsonQuote } from "../encoding/json"

export const INTERVAL_MIN_SEC = 1
export const INTERVAL_MAX_SEC = 3600

export interface DesiredChange {
    version: number
    /** Requested telemetry interval in seconds, or -1 when the patch does not mention it. */
    interval: number
    /** True when the patch names an interval that is not a whole number in range. */
    intervalInvalid: boolean
}

export function twinIntervalIsValid(v: any): boolean {
    return typeof v === "number" && Math.floor(v) === v && v >= INTERVAL_MIN_SEC && v <= INTERVAL_MAX_SEC
}

/** Reads a desired section (full twin's `desired` or a desired PATCH body). */
export function twinParseDesired(desired: any): DesiredChange {
    const isObject = desired !== null && typeof desired === "object"
    const version = isObject && typeof desired["$version"] === "number" ? desired["$version"] : -1
    const v = isObject ? desired.telemetryInterval : undefined
    if (v === undefined || v === null) return { version, interval: -1, intervalInvalid: false }
    if (!twinIntervalIsValid(v)) return { version, interval: -1, intervalInvalid: true }
    return { version, interval: v, intervalInvalid: false }
}

/** Updates older than what the device already applied are ignored (they can arrive after a GET). */
export function twinIsNewer(version: number, lastApplied: number): boolean {
    return version > lastApplied
}

export function twinBuildIntervalAck(value: number, status: number, version: number, description: string): string {
    return '{"telemetryInterval":{"value":' + value + ',"ac":' + status + ',"av":' + version + ',"ad":' + jsonQuote(description) + "}}"
}

/** Reported on every connect; `droppedReadings` counts readings lost to a full queue since boot. */
export function twinBuildDeviceInfo(firmwareVersion: string, intervalSec: number, droppedReadings: number): string {
    return '{"firmwareVersion":' + jsonQuote(firmwareVersion) + ',"telemetryIntervalActive":' + intervalSec + ',"droppedReadings":' + droppedReadings + "}"
}
