// A device-side MQTT 3.1.1 connection over TLS for tests that craft packets themselves: it
// records every packet the server sends, acknowledges QoS 1 publishes (unless told not to), and
// speaks DPS's request/response topics. CONNECT packets for DPS are built from options.
import * as tls from "tls"
import mqtt = require("mqtt-packet")
import { sasBuildToken } from "../../sim/emulator/auth/sas"
import { ID_SCOPE } from "./emulator"

export interface DpsConnectOptions {
    registrationId: string
    /** Signs the SAS token; without one the CONNECT has no password (X.509: the client certificate decides). */
    key?: string
    idScope?: string
    clientId?: string
    apiVersion?: string
    /** The `sr` exactly as written into the token; default `{scope}/registrations/{id}` unencoded (Node SDK). */
    srRaw?: string
    se?: number
    skn?: string
    keepalive?: number
    clean?: boolean
}

export function dpsToken(o: DpsConnectOptions): string {
    const scope = o.idScope ?? ID_SCOPE
    const sr = o.srRaw ?? `${scope}/registrations/${o.registrationId}`
    const se = o.se ?? Math.floor(Date.now() / 1000) + 3600
    if (o.key === undefined) throw new Error("a SAS token needs a key")
    return sasBuildToken(sr, se, o.key, o.skn ?? "registration")
}

/** An MQTT 3.1.1 CONNECT; keep-alive 60 s unless given. */
export function connectPacket(p: { clientId: string; clean: boolean; username: string; password?: string; keepalive?: number }): mqtt.IConnectPacket {
    const password = p.password === undefined ? undefined : Buffer.from(p.password)
    return { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, ...p, keepalive: p.keepalive ?? 60, password }
}

export function dpsConnectPacket(o: DpsConnectOptions): mqtt.IConnectPacket {
    return connectPacket({
        clientId: o.clientId ?? o.registrationId,
        clean: o.clean ?? true,
        keepalive: o.keepalive,
        username: `${o.idScope ?? ID_SCOPE}/registrations/${o.registrationId}/api-version=${o.apiVersion ?? "2019-03-31"}&ClientVersion=test%2F1.0`,
        password: o.key === undefined ? undefined : dpsToken(o),
    })
}

export interface ClientCert {
    cert: string
    key: string
}

const trustContexts = new Map<string, tls.SecureContext>()

function trustContext(ca: string): tls.SecureContext {
    let c = trustContexts.get(ca)
    if (!c) {
        c = tls.createSecureContext({ ca, minVersion: "TLSv1.2" })
        trustContexts.set(ca, c)
    }
    return c
}

/** A device-side MQTT connection that records every packet the server sends. */
export class RawClient {
    readonly received: mqtt.Packet[] = []
    readonly closed: Promise<void>
    /** Acknowledge the server's QoS 1 publishes (off to leave a C2D message unacknowledged). */
    autoAck = true
    private readonly consumed = new Set<mqtt.Packet>()
    private waiters: { pred: (p: mqtt.Packet) => boolean; resolve: (p: mqtt.Packet) => void; reject: (e: Error) => void }[] = []
    private nextId = 1
    private isClosed = false

    private constructor(readonly sock: tls.TLSSocket) {
        const parser = mqtt.parser()
        parser.on("packet", (p: mqtt.Packet) => {
            this.received.push(p)
            if (p.cmd === "publish" && p.qos === 1 && this.autoAck) this.send({ cmd: "puback", messageId: p.messageId })
            const i = this.waiters.findIndex((w) => w.pred(p))
            if (i >= 0) this.waiters.splice(i, 1)[0].resolve(p)
        })
        sock.on("data", (d) => parser.parse(d))
        sock.on("error", () => {})
        this.closed = new Promise((resolve) => {
            sock.on("close", () => {
                this.isClosed = true
                for (const w of this.waiters.splice(0)) w.reject(new Error("connection closed"))
                resolve()
            })
        })
    }

    /** `clientCert`: a client certificate chain (leaf first) and key, PEM, presented in the handshake. */
    static open(port: number, ca: string, host = "localhost", clientCert?: ClientCert): Promise<RawClient> {
        return new Promise((resolve, reject) => {
            // One context per trust anchor: building it parses the PEM, a real cost per connection under load.
            const trust = clientCert ? { ca, ...clientCert } : { secureContext: trustContext(ca) }
            const sock = tls.connect({ host, port, servername: host === "localhost" ? host : undefined, minVersion: "TLSv1.2", ...trust })
            sock.setNoDelay(true)
            sock.once("secureConnect", () => resolve(new RawClient(sock)))
            sock.once("error", reject)
        })
    }

    get isOpen(): boolean {
        return !this.isClosed
    }

    send(p: object): void {
        this.sock.write(mqtt.generate(p as mqtt.Packet))
    }

    write(bytes: Buffer): void {
        this.sock.write(bytes)
    }

    next(pred: (p: mqtt.Packet) => boolean = () => true): Promise<mqtt.Packet> {
        const seen = this.received.find((p) => pred(p) && !this.consumed.has(p))
        if (seen) {
            this.consumed.add(seen)
            return Promise.resolve(seen)
        }
        if (this.isClosed) return Promise.reject(new Error("connection closed"))
        return new Promise((resolve, reject) =>
            this.waiters.push({
                pred: (p) => pred(p) && !this.consumed.has(p),
                resolve: (p) => {
                    this.consumed.add(p)
                    resolve(p)
                },
                reject,
            })
        )
    }

    async connect(o: DpsConnectOptions | mqtt.IConnectPacket): Promise<number> {
        this.send("cmd" in o ? o : dpsConnectPacket(o))
        const ack = (await this.next((p) => p.cmd === "connack")) as mqtt.IConnackPacket
        return ack.returnCode!
    }

    async subscribe(topic = "$dps/registrations/res/#", qos: 0 | 1 = 1): Promise<number[]> {
        const messageId = this.nextId++
        this.send({ cmd: "subscribe", messageId, subscriptions: [{ topic, qos }] })
        const ack = (await this.next((p) => p.cmd === "suback" && p.messageId === messageId)) as mqtt.ISubackPacket
        return ack.granted as number[]
    }

    /** Publishes and waits for the DPS response that echoes `rid`. */
    async request(topic: string, rid: string, body: string | Buffer, qos: 0 | 1 = 1): Promise<DpsAnswer> {
        this.send({ cmd: "publish", topic, payload: body, qos, messageId: qos ? this.nextId++ : undefined, dup: false, retain: false })
        const prefix = "$dps/registrations/res/"
        const p = (await this.next((x) => x.cmd === "publish" && x.topic.startsWith(prefix) && x.topic.includes(`?$rid=${rid}`))) as mqtt.IPublishPacket
        const status = Number(p.topic.slice(prefix.length).split("/")[0])
        return { topic: p.topic, status, body: JSON.parse(p.payload.toString()) }
    }

    register(rid: string, body: object | string, qos: 0 | 1 = 1): Promise<DpsAnswer> {
        const text = typeof body === "string" ? body : JSON.stringify(body)
        return this.request(`$dps/registrations/PUT/iotdps-register/?$rid=${rid}`, rid, text, qos)
    }

    poll(rid: string, operationId: string, body = "", qos: 0 | 1 = 1): Promise<DpsAnswer> {
        return this.request(`$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${operationId}`, rid, body, qos)
    }

    close(): void {
        this.sock.destroy()
    }
}

export interface DpsAnswer {
    topic: string
    status: number
    body: any
}
