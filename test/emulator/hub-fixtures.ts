// Shared by the hub tests: hub device identities with random keys, and CONNECT packets / SAS
// tokens as the device SDKs write them.
import mqtt = require("mqtt-packet")
import { sasBuildToken } from "../../sim/emulator/auth/sas"
import { randomKey } from "../support/emulator"
import { ClientCert, RawClient, connectPacket } from "../support/raw-mqtt-client"

export interface HubDevice {
    deviceId: string
    primaryKey: string
    secondaryKey: string
    status?: "enabled" | "disabled"
}

export function hubDevice(deviceId: string, status?: "enabled" | "disabled"): HubDevice {
    return { deviceId, primaryKey: randomKey(), secondaryKey: randomKey(), status }
}

export interface HubConnectOptions {
    deviceId: string
    /** Signs the SAS token; without one the CONNECT has no password (X.509). */
    key?: string
    /** Host in the user name and token; default `localhost`. */
    host?: string
    clientId?: string
    /** The `sr` exactly as written into the token; default URL-encoded `{host}/devices/{id}` (Node SDK). */
    srRaw?: string
    se?: number
    clean?: boolean
    keepalive?: number
    username?: string
}

export function hubToken(o: HubConnectOptions): string {
    const sr = o.srRaw ?? encodeURIComponent(`${o.host ?? "localhost"}/devices/${o.deviceId}`)
    if (o.key === undefined) throw new Error("a SAS token needs a key")
    return sasBuildToken(sr, o.se ?? Math.floor(Date.now() / 1000) + 3600, o.key)
}

export function hubConnectPacket(o: HubConnectOptions): mqtt.IConnectPacket {
    return connectPacket({
        clientId: o.clientId ?? o.deviceId,
        clean: o.clean ?? false,
        keepalive: o.keepalive,
        username: o.username ?? `${o.host ?? "localhost"}/${o.deviceId}/?api-version=2021-04-12&DeviceClientType=test%2F1.0`,
        password: o.key === undefined ? undefined : hubToken(o),
    })
}

/** Opens a connection (presenting `clientCert` if given) and returns the CONNACK code with the client. */
export async function hubConnect(
    port: number,
    ca: string,
    o: HubConnectOptions,
    clientCert?: ClientCert
): Promise<{ code: number; client: RawClient; sessionPresent: boolean }> {
    const client = await RawClient.open(port, ca, "localhost", clientCert)
    client.send(hubConnectPacket(o))
    const ack = (await client.next((p) => p.cmd === "connack")) as mqtt.IConnackPacket
    return { code: ack.returnCode!, client, sessionPresent: !!ack.sessionPresent }
}

let nextId = 1000

export function publish(c: RawClient, topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 1): number {
    const messageId = nextId++
    c.send({ cmd: "publish", topic, payload, qos, messageId: qos ? messageId : undefined, dup: false, retain: false })
    return messageId
}

/** The next publish from the server whose topic starts with `prefix`. */
export async function nextPublish(c: RawClient, prefix: string): Promise<mqtt.IPublishPacket> {
    return (await c.next((p) => p.cmd === "publish" && p.topic.startsWith(prefix))) as mqtt.IPublishPacket
}
