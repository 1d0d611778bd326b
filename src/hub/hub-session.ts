// One connection to the assigned IoT hub (or an IoT Edge gateway in front of it):
// connect with a fresh SAS token, subscribe, then an event loop that sends due
// telemetry and reacts to twin, method and C2D messages until the link drops or
// the token is due for renewal.
import * as ds from "@devicescript/core"
import { MqttClient, MqttError } from "../mqtt/client"
import { MqttPublish } from "../mqtt/packet"
import { sasBuildHubToken } from "../sas"
import { WallClock } from "../time/clock"
import { FirmwareError } from "../errors"
import { propertyBagGet } from "./property-bag"
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
    hubParseDesiredTopic,
    hubParseMethodTopic,
    hubParseTwinResponseTopic,
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
    deviceKey: string
    modelId: string
    sasTtlSec: number
}

/** The hub refused the device's credentials: the identity is gone or changed, so provision again. */
export class HubAuthError extends FirmwareError {
    constructor(message: string) {
        super("HubAuthError", message)
    }
}

const MAX_PACKET = 8192
/** Reconnect with a new token at 80 % of its life (MQTT 3.1.1 cannot re-authenticate in place). */
const RENEW_AT = 0.8

export class HubSession {
    private mqtt: MqttClient
    private rid = 0
    private getRid = ""
    private renewAtMs = 0

    constructor(readonly o: HubOptions, readonly app: DeviceApp) {}

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
        })
        try {
            await this.mqtt.connect()
        } catch (e) {
            const code = e instanceof MqttError ? (e as MqttError).code : 0
            if (code === 4 || code === 5) throw new HubAuthError("refused " + o.deviceId + ": " + (e as Error).message)
            throw e
        }
        // A certificate session has no token to renew; it runs until the link drops.
        this.renewAtMs = o.deviceKey === null ? 0 : ds.millis() + Math.floor(ttl * 1000 * RENEW_AT)
        await this.mqtt.subscribe(hubGetC2dFilter(o.deviceId), 1)
        await this.mqtt.subscribe(HUB_TWIN_RESPONSE_FILTER, 0)
        await this.mqtt.subscribe(HUB_DESIRED_FILTER, 0)
        await this.mqtt.subscribe(HUB_METHODS_FILTER, 0)
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
            const msg = await this.mqtt.receive(wait)
            if (msg !== undefined) {
                try {
                    await this.handle(msg)
                } catch (e) {
                    if (e instanceof MqttError) throw e
                    // A malformed message from the server must not take the device down.
                    console.log("hub: could not handle message on " + msg.topic + ": " + (e as Error).message)
                }
            }
        }
    }

    async close() {
        if (this.mqtt) await this.mqtt.close()
    }

    private async flushTelemetry() {
        const q = this.app.queue
        for (;;) {
            const m = q.peek()
            if (m === null) return
            await this.mqtt.publish(hubGetTelemetryTopic(this.o.deviceId, telemetryProperties(m)), Buffer.from(m.body), 1)
            q.ack()
            this.app.messagesSent++
            console.log("hub: telemetry #" + m.seq + " acknowledged " + m.body)
        }
    }

    private async report(json: string) {
        await this.mqtt.publish(hubGetReportedPatchTopic(this.nextRid()), Buffer.from(json), 0)
    }

    private async handle(msg: MqttPublish) {
        const t = msg.topic
        const text = msg.payload.toString("utf-8")
        const twinRes = hubParseTwinResponseTopic(t)
        if (twinRes !== null) {
            if (twinRes.rid === this.getRid) {
                if (twinRes.status !== 200) {
                    console.log("hub: twin GET failed with " + twinRes.status)
                    return
                }
                const twin = JSON.parse(text)
                const reports = this.app.applyTwin(twin.desired)
                await this.report(this.app.deviceInfoJson())
                for (const r of reports) await this.report(r)
            } else if (twinRes.status === 204) console.log("hub: reported properties stored (version " + twinRes.version + ")")
            else console.log("hub: twin request " + twinRes.rid + " failed with " + twinRes.status + " " + text)
            return
        }
        const desiredVersion = hubParseDesiredTopic(t)
        if (desiredVersion >= 0) {
            const reports = this.app.applyDesiredPatch(JSON.parse(text))
            for (const r of reports) await this.report(r)
            return
        }
        const method = hubParseMethodTopic(t)
        if (method !== null) {
            const res = this.app.invokeMethod(method.name, text)
            await this.mqtt.publish(hubGetMethodResponseTopic(res.status, method.rid), Buffer.from(res.body), 0)
            console.log("hub: method " + method.name + " -> " + res.status + " " + res.body)
            if (res.newIntervalSec > 0) await this.report(this.app.deviceInfoJson())
            return
        }
        const c2d = hubParseC2dTopic(this.o.deviceId, t)
        if (c2d !== null) {
            this.app.c2dReceived++
            let props = ""
            for (const p of c2d) props += " " + p.name + "=" + p.value
            console.log("hub: c2d message" + props + " body " + text)
            const mid = propertyBagGet(c2d, "$.mid")
            if (mid !== null) console.log("hub: c2d " + mid + " completed")
            return
        }
        console.log("hub: ignored message on " + t)
    }
}
