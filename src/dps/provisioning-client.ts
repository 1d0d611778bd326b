// Runs one DPS registration over MQTT: connect, subscribe, register, poll,
// until assigned, a final error, or the deadline.
import * as ds from "@devicescript/core"
import { MqttClient, MqttError } from "../mqtt/client"
import { sasBuildDpsToken } from "../sas"
import { retryBackoffMs } from "../retry"
import { WallClock } from "../time/clock"
import { FirmwareError } from "../errors"
import {
    DPS_SUBSCRIBE_TOPIC,
    dpsBuildRegisterBody,
    dpsGetPollTopic,
    dpsGetRegisterTopic,
    dpsGetUsername,
    dpsParseResponse,
} from "./provisioning"
import { DPS_ASSIGNED, DPS_POLL, DPS_RETRY, dpsDecide } from "./provisioning-policy"

export interface DpsOptions {
    host: string
    port: number
    idScope: string
    registrationId: string
    /** null: X.509, no password (the TLS client certificate's CN is the registration id). */
    deviceKey: string
    modelId?: string
    payloadJson?: string
    sasTtlSec: number
    /** The whole registration, retries included. */
    deadlineMs: number
}

export interface DpsAssignment {
    assignedHub: string
    deviceId: string
}

/** A refusal that retrying with the same settings cannot fix. */
export class ProvisioningError extends FirmwareError {
    constructor(message: string) {
        super("ProvisioningError", message)
    }
}

const MAX_PACKET = 4096
const MAX_CONNECT_ATTEMPTS = 6

function secondsText(ms: number): string {
    return ms < 1000 ? ms + " ms" : Math.floor(ms / 100) / 10 + " s"
}

async function dpsConnect(o: DpsOptions, clock: WallClock, deadline: number): Promise<MqttClient> {
    for (let attempt = 0; ; attempt++) {
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
        })
        try {
            await client.connect()
            return client
        } catch (e) {
            const code = e instanceof MqttError ? (e as MqttError).code : 0
            if (code === 4 || code === 5)
                throw new ProvisioningError("DPS refused the credentials of " + o.registrationId + ": " + (e as Error).message)
            const wait = retryBackoffMs(attempt, 1000, 30000, Math.random())
            if (attempt + 1 >= MAX_CONNECT_ATTEMPTS || ds.millis() + wait > deadline) throw e
            console.log("dps: " + (e as Error).message + "; retrying in " + secondsText(wait))
            await ds.sleep(wait)
        }
    }
}

export async function dpsRegister(o: DpsOptions, clock: WallClock): Promise<DpsAssignment> {
    const deadline = ds.millis() + o.deadlineMs
    console.log("dps: connecting to " + o.host + ":" + o.port + " (scope " + o.idScope + ")")
    const client = await dpsConnect(o, clock, deadline)
    try {
        await client.subscribe(DPS_SUBSCRIBE_TOPIC, 1)
        const body = Buffer.from(dpsBuildRegisterBody(o.registrationId, o.modelId, o.payloadJson))
        let rid = 0
        let operationId: string = null
        let retries = 0
        console.log("dps: registering " + o.registrationId)
        for (;;) {
            rid++
            const ridText = "" + rid
            const topic = operationId === null ? dpsGetRegisterTopic(ridText) : dpsGetPollTopic(ridText, operationId)
            await client.publish(topic, operationId === null ? body : Buffer.alloc(0), 1)
            const left = deadline - ds.millis()
            const resp = await receiveResponse(client, ridText, left)
            if (resp === null) throw new ProvisioningError("no answer from DPS before the deadline")
            const d = dpsDecide(resp, retries, Math.random())
            if (d.action === DPS_ASSIGNED) {
                return { assignedHub: d.assignedHub, deviceId: d.deviceId }
            }
            if (d.action === DPS_POLL) {
                operationId = d.operationId
                retries = 0
                console.log("dps: " + d.message + ", polling again in " + secondsText(d.delayMs))
            } else if (d.action === DPS_RETRY) {
                retries++
                console.log("dps: " + d.message + ", retrying in " + secondsText(d.delayMs))
            } else throw new ProvisioningError(d.message)
            if (ds.millis() + d.delayMs > deadline)
                throw new ProvisioningError("not assigned within " + Math.floor(o.deadlineMs / 1000) + " s (last: " + d.message + ")")
            if (d.delayMs > 0) await ds.sleep(d.delayMs)
        }
    } finally {
        await client.close()
    }
}

/** Waits for the answer to request `rid`, ignoring anything else. */
async function receiveResponse(client: MqttClient, rid: string, timeoutMs: number) {
    const deadline = ds.millis() + timeoutMs
    for (;;) {
        const left = deadline - ds.millis()
        if (left <= 0) return null
        const msg = await client.receive(left)
        if (msg === undefined) return null
        const resp = dpsParseResponse(msg.topic, msg.payload)
        if (resp !== null && resp.rid === rid) return resp
    }
}
