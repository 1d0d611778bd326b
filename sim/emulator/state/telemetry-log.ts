// The device-to-cloud messages the hubs keep (what `telemetry()` reads back): one log for the
// whole emulator, numbered by a hub-wide sequence, bounded in bytes with the oldest dropped first,
// so memory follows the bound, not the traffic. Each message is a store record
// (`telemetry/<sequence>`). Live followers (monitor-events) get every message from the event, not from here.
import type { TelemetryMessage } from "./hub-registry"
import { Journal } from "./store"

/** A message as the store keeps it (the body in base64). */
export type StoredTelemetry = Omit<TelemetryMessage, "body"> & { body: string }

export const TELEMETRY_KEY_PREFIX = "telemetry/"
export const TELEMETRY_SEQUENCE_KEY = "meta/telemetry-sequence"

// What a message costs here beyond IoT Hub's size (body + property names and values): the
// object, its strings and the Buffer. Measured with bench/hub-memory.ts.
const OVERHEAD_BYTES = 600

/** IoT Hub's message size (body, system property values, application property names and values) plus our overhead. */
export function telemetryCost(m: TelemetryMessage): number {
    let n = m.body.length + OVERHEAD_BYTES
    for (const v of Object.values(m.systemProperties)) n += v.length
    for (const [k, v] of Object.entries(m.properties)) n += k.length + v.length
    return n
}

function key(sequenceNumber: number): string {
    return TELEMETRY_KEY_PREFIX + String(sequenceNumber).padStart(16, "0")
}

export class TelemetryLog {
    private items: TelemetryMessage[] = []
    /** telemetryCost of each item, computed once. */
    private costs: number[] = []
    private head = 0
    private bytes = 0
    private sequence = 0
    private readonly sequenceValue = () => this.sequence

    constructor(
        private readonly maxBytes: number,
        private readonly journal: () => Journal
    ) {}

    /** Numbers and keeps a message, dropping the oldest beyond the bound. */
    add(m: Omit<TelemetryMessage, "sequenceNumber">): TelemetryMessage {
        const stored: TelemetryMessage = { ...m, sequenceNumber: ++this.sequence }
        const cost = telemetryCost(stored)
        this.items.push(stored)
        this.costs.push(cost)
        this.bytes += cost
        const j = this.journal()
        this.save(j, stored)
        j.put(TELEMETRY_SEQUENCE_KEY, this.sequenceValue)
        while (this.bytes > this.maxBytes && this.head < this.items.length) {
            this.bytes -= this.costs[this.head]
            j.del(key(this.items[this.head++].sequenceNumber))
        }
        // Drop the consumed head now and then rather than shifting on every message.
        if (this.head > 1024 && this.head * 2 > this.items.length) {
            this.items = this.items.slice(this.head)
            this.costs = this.costs.slice(this.head)
            this.head = 0
        }
        return stored
    }

    /** A device's messages, oldest first. */
    forDevice(deviceId: string): TelemetryMessage[] {
        const out: TelemetryMessage[] = []
        for (let i = this.head; i < this.items.length; i++) if (this.items[i].deviceId === deviceId) out.push(this.items[i])
        return out
    }

    get size(): { messages: number; bytes: number } {
        return { messages: this.items.length - this.head, bytes: this.bytes }
    }

    /** Writes every message's record again (a new store). */
    rewrite(): void {
        const j = this.journal()
        for (let i = this.head; i < this.items.length; i++) this.save(j, this.items[i])
        j.put(TELEMETRY_SEQUENCE_KEY, this.sequenceValue)
    }

    private save(j: Journal, m: TelemetryMessage) {
        j.put(key(m.sequenceNumber), (): StoredTelemetry => ({ ...m, body: m.body.toString("base64") }))
    }

    /** Puts back what the store kept (in key order, so oldest first) and the sequence reached. */
    restore(stored: StoredTelemetry[], sequence: number): void {
        this.items = stored.map((m) => ({ ...m, body: Buffer.from(m.body, "base64") }))
        this.head = 0
        this.costs = this.items.map(telemetryCost)
        this.bytes = this.costs.reduce((n, c) => n + c, 0)
        this.sequence = Math.max(sequence, this.items.at(-1)?.sequenceNumber ?? 0)
    }
}
