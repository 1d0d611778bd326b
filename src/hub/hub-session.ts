// One connection to the assigned IoT hub (or an IoT Edge gateway in front of it):
// connect with a fresh SAS token, subscribe, then an event loop that sends due
// telemetry and reacts to twin, method and C2D messages until the link drops or
// the token is due for renewal.
import * as ds from "@devicescript/core"
import { MqttClient, MqttError, mqttIsAuthRefusal } from "../mqtt/client"
import { MqttPublish, mqttPayloadLength } from "../mqtt/packet"
import { sasBuildHubToken } from "../sas"
import { WallClock } from "../time/clock"
import { FirmwareError } from "../errors"
import { JsonLimits, jsonParseBounded } from "../encoding/json-bounds"
import { logClip, logClipBytes } from "../log-text"
import { HubProperty, propertyBagGet } from "./property-bag"
import {
    HUB_DESIRED_FILTER,
    HUB_METHODS_FILTER,
    HUB_TWIN_RESPONSE_FILTER,
    hubGetC2dFilter,
    hubGetMethodResponseTopic,
    hubGetReportedPatchTopic,
    hubGetTelemetryTopic,
    hubGetTwinGetTopic,
    hubGetUsername,
    hubParseC2dTopic,
    hubParseMethodTopic,
    hubParseTwinTopic,
    TwinKind,
    TwinMessage,
} from "./hub-topics"
import { DeviceApp } from "../app/device-app"
import { telemetryProperties } from "../app/telemetry"

export interface HubOptions {
    hubHostName: string
    /** Where to open TLS: the hub itself, or an IoT Edge gateway. */
    connectHost: string
    port: number
    deviceId: string
    /** null: X.509, no password and no token to renew. */
    deviceKey: string | null
    modelId: string
    sasTtlSec: number
}

/** The hub refused the device's credentials: the identity is gone or changed, so provision again. */
export class HubAuthError extends FirmwareError {
    constructor(message: string) {
        super("HubAuthError", message)
    }
}

/**
 * The heap budget of a session (64 KB VM heap; test/hostile/heap-budget.test.ts runs the worst case in a heap cut
 * to 56 KB). At most, at once: the live set ~15 KB; the socket chunk being read 2 KB; the inbox, MAX_PACKET +
 * MAX_TOPIC, which also bounds the PUBLISH being read (the frame reader skips one the inbox has no room for before
 * buffering any of it, and the packet's body becomes the inbox entry uncopied); the document being handled: its
 * bytes and its text, then (the bytes let go) its text and JSON.parse's values, each string an eighth larger for
 * the index the runtime keeps in it: 8 + 9, then 9 + 9 KB. That is 15 + 2 + 9 + 18 = 44 KB in use. The rest is not
 * spare: the heap never moves a block, so each big buffer or string needs one free run of its size, and the values'
 * 9 KB string does not fit the hole the bytes left. Measured with that test: every run completes in 56 KB, 54 KB
 * and 53 KB, none in 52 KB (out of memory in JSON.parse); at 64 KB that is a margin of 11 KB. The inbox holds one
 * message of up to 8 KB with any topic the session takes, or two of up to 4 KB (a desired patch right behind the
 * twin document: both are QoS 0). Larger documents and messages are skipped and logged by the MQTT client.
 */
const MAX_PACKET = 8192
/** Reconnect with a new token at 80 % of its life (MQTT 3.1.1 cannot re-authenticate in place). */
const RENEW_AT = 0.8

/** When a session that connected at `connectedMs` with a token of `ttlSec` reconnects with a new one. */
export function hubRenewAtMs(connectedMs: number, ttlSec: number): number {
    return connectedMs + Math.floor(ttlSec * 1000 * RENEW_AT)
}
/** Longer topics (a huge property bag, method name or rid) are dropped before any parsing. */
const MAX_TOPIC = 1024
const MAX_RID = 64
/**
 * Twins and method payloads. IoT Hub nests twin properties at most 10 deep (plus the `desired` wrapper);
 * the VM's parser crashes at a few hundred.
 */
const DOCUMENT_LIMITS: JsonLimits = { maxBytes: MAX_PACKET, maxDepth: 16, maxValues: 256 }
/** A session proves healthy by staying up this long with an acknowledged request. */
export const HUB_HEALTHY_MS = 60000

/** What a twin answer means to a session. */
export const enum TwinAnswer {
    /** The twin document this session asked for: apply its desired section. */
    ApplyTwin = 1,
    GetFailed = 2,
    ReportedStored = 3,
    /** A reported patch (or a request this session did not send) refused. */
    RequestFailed = 4,
}

/** Sorts a twin answer by the request it answers: this session's GET went out as `getRid`, every other rid is a reported patch. */
export function hubTwinAnswer(res: TwinMessage, getRid: string): TwinAnswer {
    if (res.rid === getRid) return res.kind === TwinKind.Get && res.status === 200 ? TwinAnswer.ApplyTwin : TwinAnswer.GetFailed
    return res.kind === TwinKind.Reported ? TwinAnswer.ReportedStored : TwinAnswer.RequestFailed
}

export class HubSession {
    /** null until connect(). */
    private mqtt: MqttClient | null = null
    private rid = 0
    private getRid = ""
    private renewAtMs = 0
    private connectedMs = 0
    /** PUBACKs and twin answers received: the hub serves this session, not only accepts it. */
    private answers = 0
    private reportedDropped = 0

    constructor(
        readonly o: HubOptions,
        readonly app: DeviceApp
    ) {}

    private nextRid(): string {
        this.rid++
        return "" + this.rid
    }

    async connect(clock: WallClock) {
        const o = this.o
        const ttl = o.sasTtlSec
        this.mqtt = new MqttClient({
            host: o.connectHost,
            port: o.port,
            clientId: o.deviceId,
            username: hubGetUsername(o.hubHostName, o.deviceId, o.modelId),
            password: o.deviceKey === null ? undefined : sasBuildHubToken(o.hubHostName, o.deviceId, o.deviceKey, clock.nowSec() + ttl),
            keepAliveSec: 60,
            cleanSession: false,
            maxPacketSize: MAX_PACKET,
            ackTimeoutMs: 10000,
            connectTimeoutMs: 15000,
            inboxSize: 8,
            inboxBytes: MAX_PACKET + MAX_TOPIC,
        })
        try {
            await this.mqtt.connect()
        } catch (e) {
            if (mqttIsAuthRefusal(e)) throw new HubAuthError("refused " + o.deviceId + ": " + (e as Error).message)
            throw e
        }
        this.connectedMs = ds.millis()
        // A certificate session has no token to renew; it runs until the link drops.
        this.renewAtMs = o.deviceKey === null ? 0 : hubRenewAtMs(ds.millis(), ttl)
        await this.mqtt.subscribe([hubGetC2dFilter(o.deviceId), HUB_TWIN_RESPONSE_FILTER, HUB_DESIRED_FILTER, HUB_METHODS_FILTER], [1, 0, 0, 0])
        // Desired updates made while offline are not replayed: GET the twin on every connect.
        this.getRid = this.nextRid()
        await this.mqtt.publish(hubGetTwinGetTopic(this.getRid), Buffer.alloc(0), 0)
    }

    /** Runs until the link drops (throws) or the token needs renewing (returns). */
    async run() {
        const app = this.app
        for (;;) {
            await this.flushTelemetry()
            const now = ds.millis()
            const renews = this.renewAtMs > 0
            if (renews && now >= this.renewAtMs) {
                console.log("hub: renewing SAS token")
                await this.mqtt.close()
                return
            }
            // Wake just after the sampler's next reading to send it.
            const untilTelemetry = app.msUntilTelemetry() + 20
            const wait = Math.max(20, renews ? Math.min(untilTelemetry, this.renewAtMs - now) : untilTelemetry)
            await this.receiveOne(wait)
        }
    }

    /** A method of its own so the message, body and all, is let go when it returns, not held through the next wait. */
    private async receiveOne(waitMs: number) {
        const msg = await this.mqtt.receive(waitMs)
        if (msg === undefined) return
        try {
            await this.handle(msg)
        } catch (e) {
            if (e instanceof MqttError) throw e
            // A malformed message from the server must not take the device down.
            console.log("hub: could not handle message on " + msg.topic + ": " + (e as Error).message)
        }
    }

    async close() {
        if (this.mqtt !== null) await this.mqtt.close()
    }

    /** Whether the hub accepted this session (CONNACK 0), however long it then lasted. */
    wasAccepted(): boolean {
        return this.connectedMs > 0
    }

    /** Whether this session stayed up a minute and the hub answered it: only then do backoffs reset. */
    provedHealthy(): boolean {
        return this.connectedMs > 0 && this.answers > 0 && ds.millis() - this.connectedMs >= HUB_HEALTHY_MS
    }

    private async flushTelemetry() {
        const q = this.app.queue
        for (;;) {
            const m = q.peek()
            if (m === null) break
            await this.mqtt.publish(hubGetTelemetryTopic(this.o.deviceId, telemetryProperties(m)), Buffer.from(m.body), 1)
            q.ack()
            this.answers++
            this.app.messagesSent++
            console.log("hub: telemetry #" + m.seq + " acknowledged " + m.body)
        }
        // Readings the queue had to drop are told, never lost silently.
        if (q.dropped !== this.reportedDropped) {
            this.reportedDropped = q.dropped
            await this.report(this.app.deviceInfoJson())
        }
    }

    private async report(json: string) {
        await this.mqtt.publish(hubGetReportedPatchTopic(this.nextRid()), Buffer.from(json), 0)
    }

    /**
     * Reads the topic and hands the message to its handler: each reads its payload, decides, then acts. Handlers
     * get the message, not its body, so a document parser can let the body go (jsonParseBounded).
     */
    private async handle(msg: MqttPublish) {
        const t = msg.topic
        // A method is answered whatever its name (the service waits for it); parsing it takes native string calls only.
        const method = hubParseMethodTopic(t)
        if (method !== null) return await this.onMethod(method.name, method.rid, msg)
        if (t.length > MAX_TOPIC) {
            console.log("hub: dropped a message with a " + t.length + "-character topic: " + logClip(t, 60))
            return
        }
        const twin = hubParseTwinTopic(t)
        if (twin !== null) return twin.kind === TwinKind.Desired ? await this.onDesired(msg) : await this.onTwinAnswer(twin, msg)
        const c2d = hubParseC2dTopic(this.o.deviceId, t)
        if (c2d !== null) return this.onC2d(c2d, msg)
        console.log("hub: ignored message on " + logClip(t, 120))
    }

    private async onDesired(msg: MqttPublish) {
        const patch = await jsonParseBounded(msg, DOCUMENT_LIMITS)
        if (patch.error !== null) {
            console.log("hub: desired update refused: " + patch.error)
            return
        }
        for (const r of this.app.applyDesiredPatch(patch.value)) await this.report(r)
    }

    private onC2d(props: HubProperty[], msg: MqttPublish) {
        this.app.c2dReceived++
        let text = ""
        for (const p of props) text += " " + p.name + "=" + p.value
        console.log("hub: c2d message" + logClip(text, 200) + " body " + logClipBytes(msg.body, msg.payloadStart, 120))
        const mid = propertyBagGet(props, "$.mid")
        if (mid !== null) console.log("hub: c2d " + logClip(mid, 64) + " completed")
    }

    private async onTwinAnswer(res: TwinMessage, msg: MqttPublish) {
        this.answers++
        const answer = hubTwinAnswer(res, this.getRid)
        if (answer === TwinAnswer.ReportedStored) {
            console.log("hub: reported properties stored" + (res.version !== null ? " (version " + res.version + ")" : ""))
            return
        }
        if (answer === TwinAnswer.RequestFailed) {
            console.log("hub: twin request " + logClip(res.rid, MAX_RID) + " failed with " + res.status + " " + logClipBytes(msg.body, msg.payloadStart, 120))
            return
        }
        if (answer === TwinAnswer.GetFailed) {
            console.log("hub: twin GET failed with " + res.status)
            return
        }
        const twin = await jsonParseBounded(msg, DOCUMENT_LIMITS)
        // A twin the device cannot take must not stop it: it reports itself and runs on its settings.
        const reports = twin.error === null ? this.app.applyTwin(twin.value !== null && typeof twin.value === "object" ? twin.value.desired : null) : []
        if (twin.error !== null) console.log("hub: twin document refused: " + twin.error)
        this.reportedDropped = this.app.queue.dropped
        await this.report(this.app.deviceInfoJson())
        for (const r of reports) await this.report(r)
    }

    private async onMethod(name: string, rid: string, msg: MqttPublish) {
        if (rid.length > MAX_RID) {
            console.log("hub: method request with a " + rid.length + "-character $rid dropped: no answer can carry it")
            return
        }
        const request = mqttPayloadLength(msg) === 0 ? null : await jsonParseBounded(msg, DOCUMENT_LIMITS)
        if (request !== null && request.error !== null) console.log("hub: method payload refused: " + request.error)
        const res = this.app.invokeMethod(name, request === null ? null : request.error === null ? request.value : undefined)
        await this.mqtt.publish(hubGetMethodResponseTopic(res.status, rid), Buffer.from(res.body), 0)
        console.log("hub: method " + logClip(name, 64) + " -> " + res.status + " " + res.body)
        if (res.newIntervalSec > 0) await this.report(this.app.deviceInfoJson())
    }
}
