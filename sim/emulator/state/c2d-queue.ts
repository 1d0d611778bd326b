// One device's cloud-to-device queue: bounded like IoT Hub's (50 messages), each message
// pending until the device's PUBACK completes it; a connection lost before that puts the
// message back for redelivery. Each message is a store record (`c2d/<deviceId>/<seq>`), kept
// with its delivery count until completed.
import { Journal } from "./store"

export const C2D_MAX_PENDING = 50

export interface C2dMessage {
    messageId: string
    body: Buffer
    properties: Record<string, string>
    /** System properties by name: messageId, to, contentType, contentEncoding, correlationId... */
    systemProperties: Record<string, string>
    enqueuedTimeUtc: string
    deliveryCount: number
    /** Position in the device's queue, for ever increasing: the record's key. */
    seq: number
}

/** A message as the store keeps it (the body in base64). */
export type StoredC2dMessage = Omit<C2dMessage, "body"> & { body: string }

export class C2dQueueFullError extends Error {
    readonly errorCode = 403004
    constructor(deviceId: string) {
        super(`device ${deviceId} already has ${C2D_MAX_PENDING} cloud-to-device messages pending (DeviceMaximumQueueDepthExceeded)`)
    }
}

export const C2D_KEY_PREFIX = "c2d/"

/** The device a C2D record (`c2d/<deviceId>/<seq>`) belongs to. */
export function c2dKeyDevice(key: string): string {
    return key.slice(C2D_KEY_PREFIX.length, key.lastIndexOf("/"))
}

export class C2dQueue {
    private readonly messages: C2dMessage[] = []
    /** MQTT message id of the delivery in flight -> the message. */
    private readonly inflight = new Map<number, C2dMessage>()
    private nextSeq = 1

    constructor(
        private readonly deviceId: string,
        private readonly journal: () => Journal
    ) {}

    /** Puts back a message read from the store (in key order). */
    restore(stored: StoredC2dMessage): void {
        this.messages.push({ ...stored, body: Buffer.from(stored.body, "base64") })
        this.nextSeq = Math.max(this.nextSeq, stored.seq + 1)
    }

    /** Writes every message's record again (a new store). */
    rewrite(): void {
        for (const m of this.messages) this.save(m)
    }

    /** Removes every message's record (the identity is deleted). */
    drop(): void {
        for (const m of this.messages) this.journal().del(this.key(m))
        this.messages.length = 0
        this.inflight.clear()
    }

    get size(): number {
        return this.messages.length
    }

    /** Queues a message; its `seq` is assigned here. */
    enqueue(m: Omit<C2dMessage, "seq">): void {
        if (this.messages.length >= C2D_MAX_PENDING) throw new C2dQueueFullError(this.deviceId)
        const queued = { ...m, seq: this.nextSeq++ }
        this.messages.push(queued)
        this.save(queued)
    }

    /** Messages not yet handed to the current connection, in order. */
    undelivered(): C2dMessage[] {
        const sent = new Set(this.inflight.values())
        return this.messages.filter((m) => !sent.has(m))
    }

    delivered(m: C2dMessage, packetId: number): void {
        m.deliveryCount++
        this.inflight.set(packetId, m)
        this.save(m)
    }

    /** The PUBACK for `packetId` completes its message; returns it (undefined if that id carried none). */
    complete(packetId: number): C2dMessage | undefined {
        const m = this.inflight.get(packetId)
        if (!m) return undefined
        this.inflight.delete(packetId)
        this.messages.splice(this.messages.indexOf(m), 1)
        this.journal().del(this.key(m))
        return m
    }

    /** The connection is gone: what it did not acknowledge goes out again on the next one. */
    connectionLost(): void {
        this.inflight.clear()
    }

    private key(m: C2dMessage): string {
        return `${C2D_KEY_PREFIX}${this.deviceId}/${String(m.seq).padStart(12, "0")}`
    }

    private save(m: C2dMessage) {
        this.journal().put(this.key(m), (): StoredC2dMessage => ({ ...m, body: m.body.toString("base64") }))
    }
}
