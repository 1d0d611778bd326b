// One device's cloud-to-device queue: bounded like IoT Hub's (50 messages), each message
// pending until the device's PUBACK completes it; a connection lost before that puts the
// message back for redelivery.

export const C2D_MAX_PENDING = 50
export const C2D_MAX_BODY_BYTES = 64 * 1024

export interface C2dMessage {
    messageId: string
    body: Buffer
    properties: Record<string, string>
    /** System properties by name: messageId, to, contentType, contentEncoding, correlationId... */
    systemProperties: Record<string, string>
    enqueuedTimeUtc: string
    deliveryCount: number
}

export class C2dQueueFullError extends Error {
    readonly errorCode = 403004
    constructor(deviceId: string) {
        super(`device ${deviceId} already has ${C2D_MAX_PENDING} cloud-to-device messages pending (DeviceMaximumQueueDepthExceeded)`)
    }
}

export class C2dQueue {
    private readonly messages: C2dMessage[] = []
    /** MQTT message id of the delivery in flight -> the message. */
    private readonly inflight = new Map<number, C2dMessage>()

    constructor(private readonly deviceId: string) {}

    get size(): number {
        return this.messages.length
    }

    enqueue(m: C2dMessage): void {
        if (this.messages.length >= C2D_MAX_PENDING) throw new C2dQueueFullError(this.deviceId)
        this.messages.push(m)
    }

    /** Messages not yet handed to the current connection, in order. */
    undelivered(): C2dMessage[] {
        const sent = new Set(this.inflight.values())
        return this.messages.filter((m) => !sent.has(m))
    }

    delivered(m: C2dMessage, packetId: number): void {
        m.deliveryCount++
        this.inflight.set(packetId, m)
    }

    /** The PUBACK for `packetId` completes its message; returns it (undefined if that id carried none). */
    complete(packetId: number): C2dMessage | undefined {
        const m = this.inflight.get(packetId)
        if (!m) return undefined
        this.inflight.delete(packetId)
        this.messages.splice(this.messages.indexOf(m), 1)
        return m
    }

    /** The connection is gone: what it did not acknowledge goes out again on the next one. */
    connectionLost(): void {
        this.inflight.clear()
    }
}
