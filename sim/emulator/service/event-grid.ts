// IoT Hub's events through Azure Event Grid to webhook subscriptions: the schema, the validation handshake and
// the retry policy as Azure documents them (sources in sim/emulator/README.md, "Event Grid"):
// - Microsoft.Devices.DeviceCreated / DeviceDeleted / DeviceConnected / DeviceDisconnected / DeviceTelemetry,
//   Event Grid schema (id, topic, subject, eventType, eventTime, data, dataVersion, metadataVersion);
// - a subscription is created only after its endpoint echoes the validationCode of a
//   Microsoft.EventGrid.SubscriptionValidationEvent (header aeg-event-type: SubscriptionValidation);
// - each event is POSTed (aeg-event-type: Notification) until a 200-204; a webhook's 400, 401, 403 and 413 are
//   final; anything else (or no answer in 30 s) is retried on Event Grid's schedule until the delivery attempts or
//   the time to live run out; then, and after a final status, the event is dead-lettered (kept in the durable store).
import { randomUUID } from "crypto"
import * as https from "https"
import * as tls from "tls"
import { EmulatorEvents } from "../events"
import { Journal, NO_JOURNAL } from "../state/store"

export interface EventGridSubscriptionConfig {
    name: string
    /** https:// webhook; the emulator verifies its certificate (system roots and `ca`). */
    endpoint: string
    /** Event types delivered (all five when absent). */
    includedEventTypes?: string[]
    /** Event Grid's defaults: 30 attempts, 1440 minutes. */
    maxDeliveryAttempts?: number
    eventTimeToLiveMinutes?: number
    /** The waits between attempts; Event Grid's schedule (10 s, 30 s, 1 min, 5 min, ...) unless set (tests shorten it). */
    retryDelaysMs?: number[]
}

export interface EventGridEvent {
    id: string
    topic: string
    subject: string
    eventType: string
    eventTime: string
    data: Record<string, unknown>
    dataVersion: string
    metadataVersion: string
}

export interface DeadLetter {
    subscription: string
    event: EventGridEvent
    deliveryAttempts: number
    reason: string
    deadLetteredTime: string
}

export type SubscriptionState = "validating" | "active" | "failed"

const DEAD_LETTER_KEY_PREFIX = "deadletter/"
/** Zero-padded so the store's key order is the order they were dead-lettered in. */
const deadLetterKey = (seq: number) => DEAD_LETTER_KEY_PREFIX + String(seq).padStart(12, "0")
/** Event Grid puts dead letters in a storage container; the emulator keeps the newest this many. */
export const MAX_DEAD_LETTERS = 1000

/** Event Grid's documented retry schedule; past its end the last wait repeats. */
const EVENT_GRID_RETRY_MS = [10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200].map((s) => s * 1000)
/** Webhook answers Event Grid does not retry. */
const FINAL_STATUSES = [400, 401, 403, 413]
const RESPONSE_TIMEOUT_MS = 30000
export const EVENT_TYPES = ["DeviceCreated", "DeviceDeleted", "DeviceConnected", "DeviceDisconnected", "DeviceTelemetry"].map((t) => `Microsoft.Devices.${t}`)

/** What a webhook answered: its status, or why there was none. */
interface Answer {
    status?: number
    body?: string
    error?: string
}

function post(endpoint: string, ca: string[], headers: Record<string, string>, payload: unknown): Promise<Answer> {
    const body = Buffer.from(JSON.stringify(payload))
    return new Promise((resolve) => {
        const req = https.request(endpoint, {
            method: "POST",
            ca: ca.length ? [...ca, ...tls.rootCertificates] : undefined,
            minVersion: "TLSv1.2",
            timeout: RESPONSE_TIMEOUT_MS,
            headers: { "content-type": "application/json; charset=utf-8", "content-length": String(body.length), ...headers },
        })
        req.on("response", (res) => {
            let text = ""
            res.setEncoding("utf8")
            res.on("data", (d: string) => (text += d.length + text.length <= 65536 ? d : ""))
            res.on("end", () => resolve({ status: res.statusCode, body: text }))
        })
        req.on("timeout", () => req.destroy(new Error(`no answer within ${RESPONSE_TIMEOUT_MS / 1000} s`)))
        req.on("error", (e) => resolve({ error: e.message }))
        req.end(body)
    })
}

/** One subscription: validated once, then each event delivered on its own schedule. */
class Subscription {
    state: SubscriptionState = "validating"
    private readonly timers = new Set<NodeJS.Timeout>()

    constructor(
        readonly config: EventGridSubscriptionConfig,
        private readonly ca: string[],
        private readonly onDeadLetter: (d: DeadLetter) => void,
        private readonly onState: (s: SubscriptionState, reason?: string) => void
    ) {}

    wants(eventType: string): boolean {
        return this.state === "active" && (!this.config.includedEventTypes || this.config.includedEventTypes.includes(eventType))
    }

    async validate(topic: string): Promise<void> {
        const validationCode = randomUUID()
        const event: EventGridEvent = {
            id: randomUUID(),
            topic,
            subject: "",
            eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
            eventTime: new Date().toISOString(),
            data: { validationCode, validationUrl: "" },
            dataVersion: "2",
            metadataVersion: "1",
        }
        const a = await post(
            this.config.endpoint,
            this.ca,
            { "aeg-event-type": "SubscriptionValidation", "aeg-subscription-name": this.config.name.toUpperCase() },
            [event]
        )
        let echoed: unknown
        try {
            echoed = a.body ? JSON.parse(a.body).validationResponse : undefined
        } catch {
            echoed = undefined
        }
        if (a.status === 200 && echoed === validationCode) this.setState("active")
        else this.setState("failed", a.error ?? `the endpoint answered ${a.status} without the validation code`)
    }

    deliver(event: EventGridEvent, attempt = 1, firstMs = Date.now()): void {
        void post(
            this.config.endpoint,
            this.ca,
            {
                "aeg-event-type": "Notification",
                "aeg-subscription-name": this.config.name.toUpperCase(),
                "aeg-delivery-count": String(attempt - 1),
            },
            [event]
        ).then((a) => {
            if (a.status !== undefined && a.status >= 200 && a.status <= 204) return
            const why = a.error ?? `HTTP ${a.status}`
            if (a.status !== undefined && FINAL_STATUSES.includes(a.status)) return this.deadLetter(event, attempt, `${why}: not retried`)
            const delays = this.config.retryDelaysMs ?? EVENT_GRID_RETRY_MS
            const wait = delays[Math.min(attempt - 1, delays.length - 1)]
            const ttlMs = (this.config.eventTimeToLiveMinutes ?? 1440) * 60000
            if (attempt >= (this.config.maxDeliveryAttempts ?? 30) || Date.now() + wait - firstMs > ttlMs)
                return this.deadLetter(event, attempt, `${why} after ${attempt} attempts`)
            const t = setTimeout(() => {
                this.timers.delete(t)
                this.deliver(event, attempt + 1, firstMs)
            }, wait)
            this.timers.add(t)
        })
    }

    stop(): void {
        for (const t of this.timers) clearTimeout(t)
        this.timers.clear()
    }

    private deadLetter(event: EventGridEvent, attempts: number, reason: string): void {
        this.onDeadLetter({ subscription: this.config.name, event, deliveryAttempts: attempts, reason, deadLetteredTime: new Date().toISOString() })
    }

    private setState(s: SubscriptionState, reason?: string): void {
        this.state = s
        this.onState(s, reason)
    }
}

/** Turns the emulator's events into IoT Hub's Event Grid events and hands them to the subscriptions. */
export class EventGrid {
    /** Oldest first, kept in the durable store (`deadletter/<seq>`) once attached; at most MAX_DEAD_LETTERS. */
    readonly deadLetters: DeadLetter[] = []
    private readonly deadLetterSeqs: number[] = []
    private deadLetterSeq = 0
    private journal: Journal = NO_JOURNAL
    private readonly subscriptions: Subscription[]
    /** Connections with an accepted device session (remote address -> device), for DeviceDisconnected. */
    private readonly sessions = new Map<string, { deviceId: string; hub: string }>()
    /** Device identities that exist, so an assignment that makes one is told from one that reuses it. */
    private readonly known = new Set<string>()
    /** The last twin seen of each device, for the DeviceDeleted event of one already gone. */
    private readonly lastTwin = new Map<string, unknown>()
    private sequence = 0

    constructor(
        configs: EventGridSubscriptionConfig[],
        ca: string[],
        private readonly twinOf: (deviceId: string) => unknown,
        report: (subscription: string, what: string) => void
    ) {
        this.subscriptions = configs.map(
            (c) =>
                new Subscription(
                    c,
                    ca,
                    (d) => {
                        this.keepDeadLetter(d)
                        report(c.name, `dead-lettered ${d.event.eventType} ${d.event.subject} (${d.reason})`)
                    },
                    (s, reason) => report(c.name, s === "active" ? "validated" : `validation failed: ${reason}`)
                )
        )
    }

    /** From now on dead letters are written to `journal`; `entries` (a store's, in key order) are the ones kept before. */
    attach(journal: Journal, entries: [string, unknown][]): void {
        for (const [key, value] of entries)
            if (key.startsWith(DEAD_LETTER_KEY_PREFIX)) {
                this.deadLetters.push(value as DeadLetter)
                this.deadLetterSeq = Number(key.slice(DEAD_LETTER_KEY_PREFIX.length))
                this.deadLetterSeqs.push(this.deadLetterSeq)
            }
        this.journal = journal
    }

    private keepDeadLetter(d: DeadLetter): void {
        const seq = ++this.deadLetterSeq
        this.deadLetters.push(d)
        this.deadLetterSeqs.push(seq)
        this.journal.put(deadLetterKey(seq), () => d)
        while (this.deadLetters.length > MAX_DEAD_LETTERS) {
            this.deadLetters.shift()
            this.journal.del(deadLetterKey(this.deadLetterSeqs.shift()!))
        }
    }

    /** Runs every subscription's validation handshake (a subscription is created only if it succeeds). */
    async start(hub: string, existingDevices: string[]): Promise<void> {
        for (const id of existingDevices) this.known.add(id)
        await Promise.all(this.subscriptions.map((s) => s.validate(hubTopic(hub))))
    }

    stop(): void {
        for (const s of this.subscriptions) s.stop()
    }

    state(name: string): SubscriptionState | undefined {
        return this.subscriptions.find((s) => s.config.name === name)?.state
    }

    /** Feeds one emulator event; returns the Event Grid event it became, if any. */
    observe<K extends keyof EmulatorEvents>(name: K, data: EmulatorEvents[K]): EventGridEvent | undefined {
        const e = this.translate(name, data as never)
        if (e) for (const s of this.subscriptions) if (s.wants(e.eventType)) s.deliver(e)
        return e
    }

    private translate(name: keyof EmulatorEvents, data: Record<string, never>): EventGridEvent | undefined {
        const d = data as Record<string, unknown>
        switch (name) {
            case "hub.connect": {
                const deviceId = String(d.deviceId)
                this.sessions.set(String(d.remote), { deviceId, hub: String(d.hub) })
                this.lastTwin.set(deviceId, this.twinOf(deviceId))
                return this.connectionEvent("DeviceConnected", deviceId, String(d.hub))
            }
            case "connection.close": {
                const s = this.sessions.get(String(d.remote))
                if (!s) return undefined
                this.sessions.delete(String(d.remote))
                return this.connectionEvent("DeviceDisconnected", s.deviceId, s.hub)
            }
            case "dps.assigned":
                return this.known.has(String(d.deviceId)) ? undefined : this.created(String(d.deviceId), String(d.hub))
            case "hub.device": {
                if (d.change === "created") return this.created(String(d.deviceId), String(d.hub))
                if (d.change !== "deleted") return undefined
                const deviceId = String(d.deviceId)
                this.known.delete(deviceId)
                const twin = this.twinOf(deviceId) ?? this.lastTwin.get(deviceId)
                this.lastTwin.delete(deviceId)
                return this.event("DeviceDeleted", deviceId, String(d.hub), { twin })
            }
            case "hub.telemetry": {
                const m = data as unknown as EmulatorEvents["hub.telemetry"]
                return this.event("DeviceTelemetry", m.deviceId, m.hub, {
                    body: telemetryBody(m.body, m.systemProperties),
                    properties: m.properties,
                    systemProperties: {
                        ...(m.systemProperties.contentType ? { "iothub-content-type": m.systemProperties.contentType } : {}),
                        ...(m.systemProperties.contentEncoding ? { "iothub-content-encoding": m.systemProperties.contentEncoding } : {}),
                        "iothub-connection-device-id": m.deviceId,
                        "iothub-enqueuedtime": m.enqueuedTimeUtc,
                        "iothub-message-source": "Telemetry",
                    },
                })
            }
        }
        return undefined
    }

    /** DeviceCreated, whether DPS or the service side made the identity. */
    private created(deviceId: string, hub: string): EventGridEvent {
        this.known.add(deviceId)
        const twin = this.twinOf(deviceId)
        this.lastTwin.set(deviceId, twin)
        return this.event("DeviceCreated", deviceId, hub, { twin })
    }

    private connectionEvent(type: string, deviceId: string, hub: string): EventGridEvent {
        // A sequence number that grows with each event of a device's connection state, as IoT Hub's does.
        const sequenceNumber = (++this.sequence).toString(16).toUpperCase().padStart(64, "0")
        return this.event(type, deviceId, hub, { deviceConnectionStateEventInfo: { sequenceNumber } })
    }

    private event(type: string, deviceId: string, hub: string, data: Record<string, unknown>): EventGridEvent {
        return {
            id: randomUUID(),
            topic: hubTopic(hub),
            subject: `devices/${deviceId}`,
            eventType: `Microsoft.Devices.${type}`,
            eventTime: new Date().toISOString(),
            data: { ...data, hubName: hub.split(".")[0], deviceId },
            dataVersion: "",
            metadataVersion: "1",
        }
    }
}

/** The resource id an IoT hub's events carry; the emulator has no subscription or resource group, so it says so. */
export function hubTopic(hub: string): string {
    return `/SUBSCRIPTIONS/EMULATOR/RESOURCEGROUPS/EMULATOR/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/${hub.split(".")[0].toUpperCase()}`
}

/** JSON bodies (content type application/json, UTF-8) as JSON, others as base64, as IoT Hub routes them. */
function telemetryBody(body: Buffer, system: Record<string, string>): unknown {
    const json = (system.contentType ?? "").startsWith("application/json") && /^utf-?8$/i.test(system.contentEncoding ?? "")
    if (json) {
        try {
            return JSON.parse(body.toString("utf8"))
        } catch {
            // not JSON after all: base64 below
        }
    }
    return body.toString("base64")
}
