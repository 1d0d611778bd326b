// A scripted MQTT server for the firmware client tests: it picks a script from
// the CONNECT client id and records what the device sent.
import * as tls from "tls"
import mqtt = require("mqtt-packet")

export interface PeerRecord {
    clientId: string
    packets: mqtt.Packet[]
    /** The packets of each chunk the peer read: one socket write of the device's, as a rule. */
    chunks: mqtt.Packet[][]
}

type Script = (sock: tls.TLSSocket, pkt: mqtt.Packet, rec: PeerRecord) => void

function gen(p: object): Buffer {
    return mqtt.generate(p as mqtt.Packet)
}

function connack(code: number): Buffer {
    return gen({ cmd: "connack", returnCode: code, sessionPresent: false })
}

function pub(topic: string, payload: Buffer | string, messageId: number): Buffer {
    return gen({ cmd: "publish", topic, payload, qos: 1, messageId, dup: false, retain: false })
}

async function writeSlowly(sock: tls.TLSSocket, buf: Buffer) {
    for (let i = 0; i < buf.length; i++) {
        sock.write(buf.subarray(i, i + 1))
        await new Promise((r) => setTimeout(r, 2))
    }
}

const SCRIPTS: Record<string, Script> = {
    split(sock, pkt) {
        if (pkt.cmd === "connect") void writeSlowly(sock, connack(0))
        if (pkt.cmd === "subscribe") {
            const suback = gen({ cmd: "suback", messageId: pkt.messageId, granted: [1] })
            const two = pub("t/2", Buffer.alloc(1500, 7), 2)
            // SUBACK, a whole PUBLISH and half of the next in one write; the rest later.
            sock.write(Buffer.concat([suback, pub("t/1", "one", 1), two.subarray(0, 700)]))
            setTimeout(() => sock.write(Buffer.concat([two.subarray(700), pub("t/3", "three", 3)])), 50)
        }
    },
    oversized(sock, pkt) {
        if (pkt.cmd === "connect") {
            sock.write(connack(0))
            sock.write(Buffer.concat([pub("big", Buffer.alloc(6000, 1), 1), pub("after/big", "ok", 2)]))
        }
    },
    drop(sock, pkt, rec) {
        if (pkt.cmd !== "connect") return
        sock.write(connack(0))
        if (rec.packets.filter((p) => p.cmd === "connect").length === 1) {
            const half = pub("lost", Buffer.alloc(300, 3), 1)
            sock.write(half.subarray(0, 150))
            setTimeout(() => sock.destroy(), 50)
        } else sock.write(pub("after/reconnect", "whole", 2))
    },
    refused(sock, pkt) {
        if (pkt.cmd === "connect") sock.end(connack(5))
    },
    subfail(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
        if (pkt.cmd === "subscribe") sock.write(gen({ cmd: "suback", messageId: pkt.messageId, granted: [0x80] }))
    },
    puback(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
        if (pkt.cmd === "publish" && pkt.topic === "ack/me") sock.write(gen({ cmd: "puback", messageId: pkt.messageId }))
    },
    // Two publishes in flight: only those under ack/ are acknowledged, late enough that both wait for it.
    twoinflight(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
        if (pkt.cmd === "publish" && pkt.topic.startsWith("ack/")) {
            const ack = gen({ cmd: "puback", messageId: pkt.messageId })
            setTimeout(() => sock.writable && sock.write(ack), 300)
        }
    },
    strayack(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
        if (pkt.cmd !== "publish" || pkt.topic === "done") return
        const id = pkt.messageId ?? 0
        if (pkt.topic === "ack/wrong") sock.write(gen({ cmd: "puback", messageId: (id % 65535) + 1 }))
        if (pkt.topic === "ack/flood") {
            const burst: Buffer[] = []
            for (let i = 0; i < 400; i++) burst.push(gen({ cmd: "puback", messageId: 30000 + i }))
            for (let i = 0; i < 1000; i++) burst.push(gen({ cmd: "pingresp" }))
            burst.push(gen({ cmd: "puback", messageId: id }))
            sock.write(Buffer.concat(burst))
        }
    },
    pingok(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
        if (pkt.cmd === "pingreq") sock.write(gen({ cmd: "pingresp" }))
    },
    // A 6 KB message the client keeps in its inbox: a client held after close() shows in the heap.
    cycle(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(Buffer.concat([connack(0), pub("held", Buffer.alloc(6000, 5), 1)]))
    },
    pingdead(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
    },
    // Keeps the connection open after DISCONNECT (see endOnDisconnect).
    lingering(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(connack(0))
    },
    // A message to acknowledge, then the device's publish; then one it gets no reason to answer with a write.
    coalesce(sock, pkt) {
        if (pkt.cmd === "connect") sock.write(Buffer.concat([connack(0), pub("in/1", "one", 1)]))
        if (pkt.cmd === "publish" && pkt.topic === "out/1") sock.write(pub("in/2", "two", 2))
    },
    // Answers SUBSCRIBEs only once three have come: a client waiting for each SUBACK in turn gets none.
    pipeline(sock, pkt, rec) {
        if (pkt.cmd === "connect") sock.write(connack(0))
        const subs = rec.packets.filter((p): p is mqtt.ISubscribePacket => p.cmd === "subscribe")
        if (pkt.cmd === "subscribe" && subs.length === 3)
            for (const s of subs) sock.write(gen({ cmd: "suback", messageId: s.messageId, granted: s.subscriptions.map((x) => x.qos) }))
    },
}

/** Ends the connection after DISCONNECT as MQTT servers do, except in the script that plays one that does not. */
function endOnDisconnect(sock: tls.TLSSocket, pkt: mqtt.Packet, clientId: string) {
    if (pkt.cmd === "disconnect" && clientId !== "lingering") sock.end()
}

/** Acknowledges the device's final "done" publish in every script. */
function ackDone(sock: tls.TLSSocket, pkt: mqtt.Packet) {
    if (pkt.cmd === "publish" && pkt.topic === "done" && pkt.qos === 1) sock.write(gen({ cmd: "puback", messageId: pkt.messageId }))
}

export class ScriptedPeer {
    readonly records: PeerRecord[] = []
    private server: tls.Server

    constructor(tlsOptions: tls.TlsOptions) {
        this.server = tls.createServer({ ...tlsOptions, minVersion: "TLSv1.2" }, (sock) => this.accept(sock))
        this.server.on("tlsClientError", () => {})
    }

    listen(): Promise<number> {
        return new Promise((resolve) => {
            this.server.listen(0, "127.0.0.1", () => resolve((this.server.address() as { port: number }).port))
        })
    }

    close(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()))
    }

    /** What the device sent under a client id, across all its connections. */
    record(clientId: string): PeerRecord {
        let r = this.records.find((x) => x.clientId === clientId)
        if (!r) {
            r = { clientId, packets: [], chunks: [] }
            this.records.push(r)
        }
        return r
    }

    private accept(sock: tls.TLSSocket) {
        const parser = mqtt.parser()
        let rec: PeerRecord | undefined
        let script: Script | undefined
        sock.on("error", () => {})
        let chunk: mqtt.Packet[] = []
        sock.on("data", (d) => {
            chunk = []
            parser.parse(d)
            if (rec && chunk.length > 0) rec.chunks.push(chunk)
        })
        parser.on("error", () => sock.destroy())
        parser.on("packet", (pkt) => {
            if (pkt.cmd === "connect") {
                rec = this.record(pkt.clientId)
                script = SCRIPTS[pkt.clientId]
            }
            if (!rec || !script) return void sock.destroy()
            rec.packets.push(pkt)
            chunk.push(pkt)
            ackDone(sock, pkt)
            script(sock, pkt, rec)
            endOnDisconnect(sock, pkt, rec.clientId)
        })
    }
}
