// Telemetry messages and the bounded queue that carries them across outages.
import { HubProperty } from "../hub/property-bag"
import { ClimateReading } from "./sensors"

export interface TelemetryMessage {
    /** Sequence number, sent as `$.mid` so a backend can spot a QoS 1 redelivery. */
    seq: number
    body: string
}

export function telemetryBuildBody(r: ClimateReading, seq: number): string {
    let body = "{"
    if (r.temperature !== undefined) body += '"temperature":' + r.temperature + ","
    if (r.humidity !== undefined) body += '"humidity":' + r.humidity + ","
    if (r.pressure !== undefined) body += '"pressure":' + r.pressure + ","
    return body + '"seq":' + seq + "}"
}

export function telemetryProperties(m: TelemetryMessage): HubProperty[] {
    return [
        { name: "$.mid", value: "" + m.seq },
        { name: "$.ct", value: "application/json" },
        { name: "$.ce", value: "utf-8" },
    ]
}

/** FIFO with a hard cap: when full, the oldest reading gives way and is counted. */
export class TelemetryQueue {
    private items: TelemetryMessage[] = []
    dropped = 0

    constructor(readonly capacity: number) {}

    push(m: TelemetryMessage) {
        if (this.items.length >= this.capacity) {
            this.items.shift()
            this.dropped++
        }
        this.items.push(m)
    }

    peek(): TelemetryMessage {
        return this.items.length > 0 ? this.items[0] : null
    }

    /** Removes the head once the hub acknowledged it. */
    ack() {
        this.items.shift()
    }

    length(): number {
        return this.items.length
    }
}
