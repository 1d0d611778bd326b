// Shared by the emulator and conformance tests: a test PKI in a temp dir, an emulator on
// ephemeral ports with random keys, and a raw MQTT-over-TLS client for crafting packets.
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import * as tls from "tls"
import { randomBytes } from "crypto"
import mqtt = require("mqtt-packet")
import { Emulator, EmulatorEventName, EmulatorEvents, validateConfig } from "../../sim/emulator"
import { sasBuildToken } from "../../sim/emulator/auth/sas"
import { TestPkiFiles, writeTestPki } from "../../sim/pki"

export const ID_SCOPE = "0ne00000A0A"

export function randomKey(): string {
    return randomBytes(32).toString("base64")
}

/** A fresh directory under the OS temp dir, removed when the test process exits. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
    return dir
}

let pki: Promise<TestPkiFiles> | undefined

/** One PKI per test process, in a temp dir. */
export function testPki(): Promise<TestPkiFiles> {
    pki ??= writeTestPki(tempDir("emulator-pki"))
    return pki
}

export interface RunningEmulator {
    emulator: Emulator
    mqttPort: number
    httpsPort: number
    ca: string
    /** Every event so far, in order. */
    events: { name: EmulatorEventName; data: any }[]
    stop(): Promise<void>
}

/** `enrollments` as in the config file, with keys; hub `localhost`, retry-after 0 unless given; `extra`: more config (certificates, devices...). */
export async function startEmulator(
    enrollments: object[],
    dps: { retryAfter?: number; authFailure?: "connack" | "register" } = {},
    extra: object = {}
): Promise<RunningEmulator> {
    const files = await testPki()
    const config = validateConfig({
        bind: "127.0.0.1",
        ports: { mqtt: 0, https: 0 },
        tls: { cert: files.serverCertFile, key: files.serverKeyFile, ca: files.rootCertFile },
        dps: { idScope: ID_SCOPE, retryAfter: 0, ...dps },
        hubs: [{ hostName: "localhost" }],
        enrollments,
        ...extra,
    })
    const emulator = new Emulator(config)
    const events: RunningEmulator["events"] = []
    emulator.on("event", (name, data) => events.push({ name, data }))
    const { mqttPort, httpsPort } = await emulator.start()
    const ca = fs.readFileSync(files.rootCertFile, "utf8")
    return { emulator, mqttPort, httpsPort, ca, events, stop: () => emulator.stop() }
}

export function individual(registrationId: string, extra: object = {}) {
    const primaryKey = randomKey()
    const secondaryKey = randomKey()
    return { registrationId, attestation: { type: "symmetricKey", primaryKey, secondaryKey }, ...extra }
}

export function group(enrollmentGroupId: string, extra: object = {}) {
    const primaryKey = randomKey()
    const secondaryKey = randomKey()
    return { enrollmentGroupId, attestation: { type: "symmetricKey", primaryKey, secondaryKey }, ...extra }
}

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

export function dpsConnectPacket(o: DpsConnectOptions): mqtt.IConnectPacket {
    const scope = o.idScope ?? ID_SCOPE
    return {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clientId: o.clientId ?? o.registrationId,
        clean: o.clean ?? true,
        keepalive: o.keepalive ?? 60,
        username: `${scope}/registrations/${o.registrationId}/api-version=${o.apiVersion ?? "2019-03-31"}&ClientVersion=test%2F1.0`,
        password: o.key === undefined ? undefined : Buffer.from(dpsToken(o)),
    }
}

export interface ClientCert {
    cert: string
    key: string
}

/** A device-side MQTT connection that records every packet the server sends. */
const trustContexts = new Map<string, tls.SecureContext>()

function trustContext(ca: string): tls.SecureContext {
    let c = trustContexts.get(ca)
    if (!c) trustContexts.set(ca, (c = tls.createSecureContext({ ca, minVersion: "TLSv1.2" })))
    return c
}

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
        const p = (await this.next(
            (x) => x.cmd === "publish" && x.topic.startsWith(prefix) && x.topic.includes(`?$rid=${rid}`)
        )) as mqtt.IPublishPacket
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

/** Connect (presenting `clientCert` if given), subscribe, register, poll until a final answer; every answer in order. */
export async function provision(port: number, ca: string, o: DpsConnectOptions, payload?: unknown, clientCert?: ClientCert): Promise<DpsAnswer[]> {
    const c = await RawClient.open(port, ca, "localhost", clientCert)
    try {
        const code = await c.connect(o)
        if (code !== 0) throw new Error(`CONNACK ${code}`)
        await c.subscribe()
        const answers = [await c.register("1", { registrationId: o.registrationId, payload })]
        for (let i = 0; i < 10 && answers[answers.length - 1].status === 202; i++)
            answers.push(await c.poll(String(i + 2), answers[answers.length - 1].body.operationId))
        return answers
    } finally {
        c.close()
    }
}

/** Resolves with the data of the next event of that name. */
export function nextEvent<K extends EmulatorEventName>(e: Emulator, name: K): Promise<EmulatorEvents[K]> {
    return new Promise((resolve) => e.once(name, resolve as any))
}
