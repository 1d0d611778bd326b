// Runs one DPS registration attempt over MQTT: connect, subscribe, register,
// poll, until assigned, a refusal, or the attempt's deadline. Retrying attempts
// is the caller's (see provisioning-loop.ts); every error here says whether a
// retry soon can help.
import * as ds from "@devicescript/core"
import { MqttClient, mqttIsAuthRefusal } from "../mqtt/client"
import { mqttPayloadLength } from "../mqtt/packet"
import { sasBuildDpsToken } from "../sas"
import { retryDescribeMs } from "../retry"
import { WallClock } from "../time/clock"
import { FirmwareError } from "../errors"
import { jsonParseBounded } from "../encoding/json-bounds"
import {
    DPS_SUBSCRIBE_TOPIC,
    DpsResponse,
    dpsBuildRegisterBody,
    dpsGetPollTopic,
    dpsGetRegisterTopic,
    dpsGetUsername,
    dpsParseResponseBody,
    dpsParseResponseTopic,
} from "./provisioning"
import { DpsAction, dpsDecide } from "./provisioning-policy"

export interface DpsOptions {
    host: string
    port: number
    idScope: string
    registrationId: string
    /** null: X.509, no password (the TLS client certificate's CN is the registration id). */
    deviceKey: string | null
    modelId?: string
    payloadJson?: string
    sasTtlSec: number
    /** The whole attempt, polls and retries included. */
    deadlineMs: number
}

export interface DpsAssignment {
    assignedHub: string
    deviceId: string
}

/** A registration attempt that ended without an assignment. */
export class ProvisioningError extends FirmwareError {
    /**
     * definitive: DPS answered about these credentials or this enrollment (refused, disabled,
     * failed allocation): wait long before asking again. Otherwise a transport or server
     * problem, worth retrying after `retryAfterMs` at the earliest (0: no hint).
     */
    constructor(
        message: string,
        readonly definitive: boolean,
        readonly retryAfterMs: number
    ) {
        super("ProvisioningError", message)
    }
}

const MAX_PACKET = 4096
/** A DPS answer takes milliseconds; one that has not come in this long is lost. */
const RESPONSE_TIMEOUT_MS = 30000
const BODY_LIMITS = { maxBytes: MAX_PACKET, maxDepth: 16, maxValues: 128 }

async function dpsConnect(o: DpsOptions, clock: WallClock): Promise<MqttClient> {
    const client = new MqttClient({
        host: o.host,
        port: o.port,
        clientId: o.registrationId,
        username: dpsGetUsername(o.idScope, o.registrationId),
        password: o.deviceKey === null ? undefined : sasBuildDpsToken(o.idScope, o.registrationId, o.deviceKey, clock.nowSec() + o.sasTtlSec),
        keepAliveSec: 60,
        cleanSession: true,
        maxPacketSize: MAX_PACKET,
        ackTimeoutMs: 10000,
        connectTimeoutMs: 15000,
        inboxSize: 4,
        inboxBytes: 2 * MAX_PACKET,
    })
    try {
        await client.connect()
        return client
    } catch (e) {
        if (mqttIsAuthRefusal(e)) throw new ProvisioningError("DPS refused the credentials of " + o.registrationId + ": " + (e as Error).message, true, 0)
        throw new ProvisioningError((e as Error).message, false, 0)
    }
}

export async function dpsRegister(o: DpsOptions, clock: WallClock): Promise<DpsAssignment> {
    const deadline = ds.millis() + o.deadlineMs
    console.log("dps: connecting to " + o.host + ":" + o.port + " (scope " + o.idScope + ")")
    const client = await dpsConnect(o, clock)
    try {
        await client.subscribe([DPS_SUBSCRIBE_TOPIC], [1])
        const body = Buffer.from(dpsBuildRegisterBody(o.registrationId, o.modelId, o.payloadJson))
        let rid = 0
        let operationId: string | null = null
        let retries = 0
        console.log("dps: registering " + o.registrationId)
        for (;;) {
            rid++
            const ridText = "" + rid
            const topic = operationId === null ? dpsGetRegisterTopic(ridText) : dpsGetPollTopic(ridText, operationId)
            await client.publish(topic, operationId === null ? body : Buffer.alloc(0), 1)
            const resp = await receiveResponse(client, ridText, Math.min(RESPONSE_TIMEOUT_MS, deadline - ds.millis()))
            if (resp === null) throw new ProvisioningError("no answer from DPS", false, 0)
            const d = dpsDecide(resp, retries, Math.random())
            if (d.action === DpsAction.Assigned) return { assignedHub: d.assignedHub, deviceId: d.deviceId }
            if (d.action === DpsAction.Refused) throw new ProvisioningError(d.message, true, 0)
            if (d.action === DpsAction.Poll) {
                operationId = d.operationId
                retries = 0
            } else retries++
            if (ds.millis() + d.delayMs > deadline)
                throw new ProvisioningError("not assigned within " + Math.floor(o.deadlineMs / 1000) + " s (last: " + d.message + ")", false, d.delayMs)
            console.log("dps: " + d.message + ", " + (d.action === DpsAction.Poll ? "polling again" : "retrying") + " in " + retryDescribeMs(d.delayMs))
            if (d.delayMs > 0) await ds.sleep(d.delayMs)
        }
    } catch (e) {
        if (e instanceof ProvisioningError) throw e
        throw new ProvisioningError((e as Error).message, false, 0)
    } finally {
        await client.close()
    }
}

/** Waits for the answer to request `rid`, ignoring anything else (null: none in time); its body parsed within bounds. */
async function receiveResponse(client: MqttClient, rid: string, timeoutMs: number): Promise<DpsResponse | null> {
    const deadline = ds.millis() + timeoutMs
    for (;;) {
        const left = deadline - ds.millis()
        if (left <= 0) return null
        const msg = await client.receive(left)
        if (msg === undefined) return null
        const resp = dpsParseResponseTopic(msg.topic)
        if (resp === null || resp.rid !== rid) continue
        return dpsParseResponseBody(resp, mqttPayloadLength(msg) > 0 ? await jsonParseBounded(msg, BODY_LIMITS) : null)
    }
}
