// An IoT Edge gateway's store and forward: the leaves' telemetry kept in arrival order while
// the uplink is down, bounded in count (the oldest goes first) and in age (the message TTL).
// Each message is a store record (`edge-queue/<edgeId>/<seq>`) until it is forwarded or dropped.
import { TelemetryMessage } from "../state/hub-registry"
import { Journal } from "../state/store"

/**
 * A leaf's message as the gateway received it, `enqueuedTimeUtc` being when it did; the hub
 * numbers and timestamps it again on arrival.
 */
export type UpstreamMessage = Omit<TelemetryMessage, "sequenceNumber">

type Queued = { seq: number; message: UpstreamMessage }
type StoredUpstream = Omit<UpstreamMessage, "body"> & { body: string; seq: number }

export class MessageStore {
    private queue: Queued[] = []
    private nextSeq = 1

    constructor(
        private readonly limits: { maxMessages: number; ttlSec: number },
        private readonly keyPrefix: string,
        private readonly journal: () => Journal
    ) {}

    get size(): number {
        return this.queue.length
    }

    /** Keeps the message; returns the oldest one when that pushed it out. */
    add(message: UpstreamMessage): UpstreamMessage | undefined {
        const q = { seq: this.nextSeq++, message }
        this.queue.push(q)
        this.journal().put(this.key(q), (): StoredUpstream => ({ ...message, body: message.body.toString("base64"), seq: q.seq }))
        if (this.queue.length <= this.limits.maxMessages) return undefined
        const old = this.queue.shift()!
        this.journal().del(this.key(old))
        return old.message
    }

    /** Empties the store: the messages still within their TTL, in order, and those past it. */
    takeAll(now: Date): { live: UpstreamMessage[]; expired: UpstreamMessage[] } {
        const all = this.queue
        this.queue = []
        for (const q of all) this.journal().del(this.key(q))
        const alive = (m: UpstreamMessage) => now.getTime() - Date.parse(m.enqueuedTimeUtc) <= this.limits.ttlSec * 1000
        const messages = all.map((q) => q.message)
        return { live: messages.filter(alive), expired: messages.filter((m) => !alive(m)) }
    }

    /** Writes every message's record again (a new store). */
    rewrite(): void {
        const { queue } = this
        this.queue = []
        for (const q of queue) this.add(q.message)
    }

    /** Replaces the queue with the store's records (entries in key order). */
    restore(entries: [string, unknown][]): void {
        this.queue = []
        for (const [key, value] of entries) {
            if (!key.startsWith(this.keyPrefix)) continue
            const { seq, ...m } = value as StoredUpstream
            this.queue.push({ seq, message: { ...m, body: Buffer.from(m.body, "base64") } })
            this.nextSeq = seq + 1
        }
    }

    private key(q: Queued): string {
        return this.keyPrefix + String(q.seq).padStart(12, "0")
    }
}
