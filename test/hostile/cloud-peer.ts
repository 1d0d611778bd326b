// A scripted cloud for the hostile-peer suite: an HTTPS time endpoint and one MQTT/TLS port that plays DPS
// (user names with /registrations/) and the IoT hub, written from the protocol notes in
// sim/emulator/README.md and Azure's documentation, not from the firmware. By default it behaves; each case
// overrides the step it attacks, and an optional mutator rewrites every packet it sends.
import * as https from "https"
import * as net from "net"
import * as tls from "tls"
import mqtt = require("mqtt-packet")

export type Kind = "dps" | "hub"

/** What the peer sends, named so that a case or the fuzzer can pick its target. */
export type OutKind = "connack" | "suback" | "puback" | "pingresp" | "dps-response" | "twin-response" | "desired" | "method" | "c2d"

export interface Connection {
    readonly id: number
    readonly kind: Kind
    readonly clientId: string
    readonly openedMs: number
    closedMs?: number
    readonly sock: tls.TLSSocket
    /** Packets the device sent on this connection. */
    readonly received: mqtt.Packet[]
    /** Sends a packet, through the mutator when one is set. */
    send(kind: OutKind, packet: object): void
    /** Sends raw bytes as they are. */
    write(bytes: Buffer): void
}

export type Step = (c: Connection, pkt: mqtt.Packet, peer: CloudPeer) => void

/** Per-case overrides; each gets the connection and the device's packet, and replaces the default answer. */
export interface Script {
    connect?: Step
    subscribe?: Step
    dpsRegister?: Step
    dpsPoll?: Step
    twinGet?: Step
    reported?: Step
    telemetry?: Step
    pingreq?: Step
    /** After the hub session is set up (the device's twin GET answered). */
    sessionReady?: Step
}

/** Rewrites one outgoing packet into the bytes actually sent (or several packets, or none). */
export type Mutator = (c: Connection, kind: OutKind, bytes: Buffer) => Buffer

export interface TelemetryRecord {
    connection: number
    seq: number
    body: string
    atMs: number
}

export function gen(p: object): Buffer {
    return mqtt.generate(p as mqtt.Packet)
}

function query(topic: string): URLSearchParams {
    const q = topic.indexOf("?")
    return new URLSearchParams(q < 0 ? "" : topic.slice(q + 1))
}

export function dpsResponseTopic(status: number, rid: string, retryAfter?: number): string {
    return `$dps/registrations/res/${status}/?$rid=${rid}` + (retryAfter === undefined ? "" : `&retry-after=${retryAfter}`)
}

export interface PeerOptions {
    cert: string
    key: string
    script?: Script
    /** Assigned hub host name and device id (default: localhost, the CONNECT client id). */
    assignedHub?: string
}

export class CloudPeer {
    readonly connections: Connection[] = []
    readonly telemetry: TelemetryRecord[] = []
    script: Script
    mutator: Mutator | undefined
    /** While false both ports accept TCP and drop it at once: the service (or the network) is down. */
    up = true
    /** Time requests answered (with or without a usable Date). */
    timeRequests = 0
    /** Replaces the time endpoint's answer: status line + headers, without the final blank line. */
    timeHead: ((n: number) => string) | undefined
    private mqttServer: tls.Server
    private timeServer: https.Server
    private nextId = 0
    private readonly assignedHub: string

    constructor(opts: PeerOptions) {
        this.script = opts.script ?? {}
        this.assignedHub = opts.assignedHub ?? "localhost"
        const tlsOpts = { cert: opts.cert, key: opts.key, minVersion: "TLSv1.2" as const }
        this.mqttServer = tls.createServer(tlsOpts, (sock) => this.accept(sock))
        this.timeServer = https.createServer(tlsOpts)
        for (const s of [this.mqttServer, this.timeServer]) {
            s.on("tlsClientError", () => {})
            // Down: TCP is accepted and dropped before TLS, as a restarting service or a missing network looks.
            s.on("connection", (raw: net.Socket) => {
                if (!this.up) raw.destroy()
            })
        }
        // Raw socket handling so a case can answer with a broken head.
        this.timeServer.on("secureConnection", (sock: tls.TLSSocket) => this.answerTime(sock))
    }

    async listen(): Promise<{ mqttPort: number; timePort: number }> {
        const on = (s: net.Server) => new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port)))
        return { mqttPort: await on(this.mqttServer), timePort: await on(this.timeServer) }
    }

    async close(): Promise<void> {
        for (const c of this.connections) c.sock.destroy()
        await Promise.all([this.mqttServer, this.timeServer].map((s) => new Promise((r) => s.close(() => r(undefined)))))
    }

    of(kind: Kind): Connection[] {
        return this.connections.filter((c) => c.kind === kind)
    }

    /** Drops every open connection (a service restart or an outage). */
    dropAll(): void {
        for (const c of this.connections) if (c.closedMs === undefined) c.sock.destroy()
    }

    /** Sequence numbers received, each once, in order of first arrival. */
    seqs(): number[] {
        const seen = new Set<number>()
        const out: number[] = []
        for (const t of this.telemetry) {
            if (seen.has(t.seq)) continue
            seen.add(t.seq)
            out.push(t.seq)
        }
        return out
    }

    private answerTime(sock: tls.TLSSocket): void {
        sock.on("error", () => {})
        sock.once("data", () => {
            const n = ++this.timeRequests
            const head = this.timeHead?.(n) ?? `HTTP/1.1 200 OK\r\nDate: ${new Date().toUTCString()}\r\nContent-Length: 0\r\nConnection: close`
            sock.end(`${head}\r\n\r\n`)
        })
    }

    private accept(sock: tls.TLSSocket): void {
        sock.on("error", () => {})
        const parser = mqtt.parser()
        let conn: Connection | undefined
        sock.on("data", (d) => parser.parse(d))
        sock.on("close", () => {
            if (conn) conn.closedMs = Date.now()
        })
        parser.on("error", () => sock.destroy())
        parser.on("packet", (pkt) => {
            if (!conn) {
                if (pkt.cmd !== "connect") return void sock.destroy()
                conn = this.open(sock, pkt)
            }
            conn.received.push(pkt)
            this.handle(conn, pkt)
        })
    }

    private open(sock: tls.TLSSocket, pkt: mqtt.IConnectPacket): Connection {
        const peer = this
        const conn: Connection = {
            id: ++this.nextId,
            kind: (pkt.username ?? "").includes("/registrations/") ? "dps" : "hub",
            clientId: pkt.clientId,
            openedMs: Date.now(),
            sock,
            received: [],
            send(kind, packet) {
                const bytes = gen(packet)
                if (!sock.destroyed) sock.write(peer.mutator ? peer.mutator(conn, kind, bytes) : bytes)
            },
            write(bytes) {
                if (!sock.destroyed) sock.write(bytes)
            },
        }
        this.connections.push(conn)
        return conn
    }

    private handle(c: Connection, pkt: mqtt.Packet): void {
        const s = this.script
        switch (pkt.cmd) {
            case "connect":
                return (s.connect ?? defaults.connect)(c, pkt, this)
            case "subscribe":
                return (s.subscribe ?? defaults.subscribe)(c, pkt, this)
            case "pingreq":
                return (s.pingreq ?? defaults.pingreq)(c, pkt, this)
            case "disconnect":
                return void c.sock.end()
            case "publish":
                return this.onPublish(c, pkt)
        }
    }

    private onPublish(c: Connection, pkt: mqtt.IPublishPacket): void {
        const s = this.script
        const t = pkt.topic
        if (t.startsWith("$dps/registrations/PUT/iotdps-register/")) return (s.dpsRegister ?? defaults.dpsRegister)(c, pkt, this)
        if (t.startsWith("$dps/registrations/GET/iotdps-get-operationstatus/")) return (s.dpsPoll ?? defaults.dpsPoll)(c, pkt, this)
        if (t.startsWith("$iothub/twin/GET/")) {
            ;(s.twinGet ?? defaults.twinGet)(c, pkt, this)
            return s.sessionReady?.(c, pkt, this)
        }
        if (t.startsWith("$iothub/twin/PATCH/properties/reported/")) return (s.reported ?? defaults.reported)(c, pkt, this)
        if (t.startsWith(`devices/${c.clientId}/messages/events/`)) {
            const body = pkt.payload.toString()
            let seq = -1
            try {
                seq = JSON.parse(body).seq
            } catch {
                // recorded with seq -1: the assertion on sequence numbers shows it
            }
            this.telemetry.push({ connection: c.id, seq, body, atMs: Date.now() })
            return (s.telemetry ?? defaults.telemetry)(c, pkt, this)
        }
        // Method responses and anything else the device publishes at QoS 0 need no answer.
        if (pkt.qos === 1) c.send("puback", { cmd: "puback", messageId: pkt.messageId })
    }

    /** Default answers, for cases that attack one step and let the rest behave. */
    get defaults(): Required<Omit<Script, "sessionReady">> {
        return defaults
    }

    assignmentFor(c: Connection): { assignedHub: string; deviceId: string } {
        return { assignedHub: this.assignedHub, deviceId: c.clientId }
    }
}

export function pubackIfQos1(c: Connection, pkt: mqtt.IPublishPacket): void {
    if (pkt.qos === 1) c.send("puback", { cmd: "puback", messageId: pkt.messageId })
}

export function ridOf(pkt: mqtt.IPublishPacket): string {
    return query(pkt.topic).get("$rid") ?? ""
}

/** Publishes a server message at QoS 0 (DPS and twin responses) or 1 (C2D). */
export function serverPublish(c: Connection, kind: OutKind, topic: string, payload: string | Buffer, qos: 0 | 1 = 0, messageId = 1): void {
    c.send(kind, { cmd: "publish", topic, payload: Buffer.from(payload), qos, messageId: qos ? messageId : undefined, dup: false, retain: false })
}

const defaults: Required<Omit<Script, "sessionReady">> = {
    connect(c) {
        c.send("connack", { cmd: "connack", returnCode: 0, sessionPresent: false })
    },
    subscribe(c, pkt) {
        const sub = pkt as mqtt.ISubscribePacket
        c.send("suback", { cmd: "suback", messageId: sub.messageId, granted: sub.subscriptions.map((s) => Math.min(s.qos, 1)) })
    },
    pingreq(c) {
        c.send("pingresp", { cmd: "pingresp" })
    },
    dpsRegister(c, pkt) {
        const p = pkt as mqtt.IPublishPacket
        pubackIfQos1(c, p)
        serverPublish(c, "dps-response", dpsResponseTopic(202, ridOf(p), 1), JSON.stringify({ operationId: "op-1", status: "assigning" }))
    },
    dpsPoll(c, pkt, peer) {
        const p = pkt as mqtt.IPublishPacket
        pubackIfQos1(c, p)
        const a = peer.assignmentFor(c)
        const body = { operationId: "op-1", status: "assigned", registrationState: { registrationId: c.clientId, status: "assigned", ...a } }
        serverPublish(c, "dps-response", dpsResponseTopic(200, ridOf(p)), JSON.stringify(body))
    },
    twinGet(c, pkt) {
        const p = pkt as mqtt.IPublishPacket
        serverPublish(c, "twin-response", `$iothub/twin/res/200/?$rid=${ridOf(p)}`, JSON.stringify({ desired: { $version: 1 }, reported: { $version: 1 } }))
    },
    reported(c, pkt) {
        const p = pkt as mqtt.IPublishPacket
        pubackIfQos1(c, p)
        serverPublish(c, "twin-response", `$iothub/twin/res/204/?$rid=${ridOf(p)}&$version=2`, "")
    },
    telemetry(c, pkt) {
        pubackIfQos1(c, pkt as mqtt.IPublishPacket)
    },
}
