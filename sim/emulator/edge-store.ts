// An IoT Edge gateway's store and forward: the leaves' telemetry kept in arrival order while
// the uplink is down, bounded in count (the oldest goes first) and in age (the message TTL).
import { TelemetryMessage } from "./hub-registry"

/**
 * A leaf's message as the gateway received it, `enqueuedTimeUtc` being when it did; the hub
 * numbers and timestamps it again on arrival.
 */
export type UpstreamMessage = Omit<TelemetryMessage, "sequenceNumber">

export class MessageStore {
    private queue: UpstreamMessage[] = []

    constructor(private readonly limits: { maxMessages: number; ttlSec: number }) {}

    get size(): number {
        return this.queue.length
    }

    /** Keeps the message; returns the oldest one when that pushed it out. */
    add(message: UpstreamMessage): UpstreamMessage | undefined {
        this.queue.push(message)
        return this.queue.length > this.limits.maxMessages ? this.queue.shift() : undefined
    }

    /** Empties the store: the messages still within their TTL, in order, and those past it. */
    takeAll(now: Date): { live: UpstreamMessage[]; expired: UpstreamMessage[] } {
        const all = this.queue
        this.queue = []
        const alive = (m: UpstreamMessage) => now.getTime() - Date.parse(m.enqueuedTimeUtc) <= this.limits.ttlSec * 1000
        return { live: all.filter(alive), expired: all.filter((m) => !alive(m)) }
    }
}
