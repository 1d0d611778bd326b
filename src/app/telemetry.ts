// Telemetry messages and the bounded queue that carries readings across outages.
import { HubProperty } from "../hub/property-bag"
import { ClimateReading } from "./sensors"

export interface TelemetryMessage {
    /** Sequence number, sent as `$.mid` so a backend can spot a QoS 1 redelivery. */
    seq: number
    body: string
}

export function telemetryBuildBody(r: ClimateReading, seq: number): string {
    const pressure = r.pressure === undefined ? "" : ',"pressure":' + r.pressure
    return '{"temperature":' + r.temperature + ',"humidity":' + r.humidity + pressure + ',"seq":' + seq + "}"
}

export function telemetryProperties(m: TelemetryMessage): HubProperty[] {
    return [
        { name: "$.mid", value: "" + m.seq },
        { name: "$.ct", value: "application/json" },
        { name: "$.ce", value: "utf-8" },
    ]
}

/** seq, then temperature, humidity and pressure in hundredths: 16 bytes a reading instead of ~110 as objects. */
const RECORD = 16
const ABSENT = -2147483648

function hundredths(v: number): number {
    return Math.round(v * 100)
}

/**
 * FIFO of readings in one preallocated buffer, so hundreds of them fit the
 * 64 KB heap. When full, the oldest reading gives way and is counted; the
 * device reports that count, so nothing is lost silently.
 */
export class TelemetryQueue {
    private readonly records: Buffer
    private head = 0
    private count = 0
    /** Readings dropped since boot because the queue was full. */
    dropped = 0

    constructor(readonly capacity: number) {
        this.records = Buffer.alloc(capacity * RECORD)
    }

    push(seq: number, r: ClimateReading) {
        if (this.count === this.capacity) {
            this.head = (this.head + 1) % this.capacity
            this.count--
            this.dropped++
        }
        const o = ((this.head + this.count) % this.capacity) * RECORD
        const b = this.records
        b.setAt(o, "u32", seq)
        b.setAt(o + 4, "i32", hundredths(r.temperature))
        b.setAt(o + 8, "i32", hundredths(r.humidity))
        b.setAt(o + 12, "i32", r.pressure === undefined ? ABSENT : hundredths(r.pressure))
        this.count++
    }

    /** The oldest reading as a message, or null when empty. */
    peek(): TelemetryMessage {
        if (this.count === 0) return null
        const o = this.head * RECORD
        const b = this.records
        const p = b.getAt(o + 12, "i32")
        const r: ClimateReading = { temperature: b.getAt(o + 4, "i32") / 100, humidity: b.getAt(o + 8, "i32") / 100 }
        if (p !== ABSENT) r.pressure = p / 100
        const seq = b.getAt(o, "u32")
        return { seq, body: telemetryBuildBody(r, seq) }
    }

    /** Removes the head once the hub acknowledged it. */
    ack() {
        if (this.count === 0) return
        this.head = (this.head + 1) % this.capacity
        this.count--
    }

    length(): number {
        return this.count
    }
}
