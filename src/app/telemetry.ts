// Telemetry messages and the bounded queue that carries readings across outages.
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

/** seq, then temperature, humidity and pressure in hundredths: 16 bytes a reading instead of ~110 as objects. */
const RECORD = 16
const ABSENT = -2147483648
/** Events (a button press) are rare and few: a short list beside the readings. */
const MAX_EVENTS = 8

function hundredths(v: number): number {
    return v === undefined ? ABSENT : Math.round(v * 100)
}

function fromHundredths(v: number): number {
    return v === ABSENT ? undefined : v / 100
}

/**
 * FIFO of readings in one preallocated buffer, so hundreds of them fit the
 * 64 KB heap, and of the odd event message, in sequence order. When full,
 * the oldest gives way and is counted; the device reports that count, so
 * nothing is lost silently.
 */
export class TelemetryQueue {
    private readonly records: Buffer
    private head = 0
    private count = 0
    private events: TelemetryMessage[] = []
    /** Messages dropped since boot because the queue was full. */
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
        b.setAt(o + 12, "i32", hundredths(r.pressure))
        this.count++
    }

    /** A message whose body is already built (an event such as a button press). */
    pushEvent(m: TelemetryMessage) {
        if (this.events.length === MAX_EVENTS) {
            this.events.shift()
            this.dropped++
        }
        this.events.push(m)
    }

    private readingSeq(): number {
        return this.count === 0 ? -1 : this.records.getAt(this.head * RECORD, "u32")
    }

    private eventFirst(): boolean {
        if (this.events.length === 0) return false
        return this.count === 0 || this.events[0].seq < this.readingSeq()
    }

    /** The oldest message, or null when empty. */
    peek(): TelemetryMessage {
        if (this.eventFirst()) return this.events[0]
        if (this.count === 0) return null
        const o = this.head * RECORD
        const b = this.records
        const r: ClimateReading = {
            temperature: fromHundredths(b.getAt(o + 4, "i32")),
            humidity: fromHundredths(b.getAt(o + 8, "i32")),
            pressure: fromHundredths(b.getAt(o + 12, "i32")),
        }
        const seq = this.readingSeq()
        return { seq, body: telemetryBuildBody(r, seq) }
    }

    /** Removes the message peek() gave once the hub acknowledged it. */
    ack() {
        if (this.eventFirst()) this.events.shift()
        else if (this.count > 0) {
            this.head = (this.head + 1) % this.capacity
            this.count--
        }
    }

    length(): number {
        return this.count + this.events.length
    }
}
