// The MQTT transport under the faces: what is acknowledged (only what a face took), what an
// unauthenticated client may cost (a small CONNECT, a bounded number of pending connections) and
// framing that stays linear in the bytes received however they are split.
import * as assert from "assert"
import * as net from "net"
import * as fs from "fs"
import mqtt = require("mqtt-packet")
import { MqttFramer, readFixedHeader } from "../../sim/emulator/transport/mqtt-framer"
import { PUBLISH_TYPE, decodePublish } from "../../sim/emulator/transport/publish-decoder"
import { fuzzPackets, fuzzSeed } from "./fuzz-packets"
import { keepaliveTimeoutMs } from "../../sim/emulator/transport/mqtt-connection"
import { startTlsListener } from "../../sim/emulator/transport/tls-listener"
import { until } from "../../sim/wait"
import { nextEvent, RunningEmulator, startTestEmulator, testPki } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { hubConnect, hubDevice, publish } from "./hub-fixtures"

/** Bytes copied by Buffer.concat and Buffer#copy while `f` runs. */
function bytesCopied(f: () => void): number {
    const concat = Buffer.concat
    const copy = Buffer.prototype.copy
    let copied = 0
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
        const out = concat.call(Buffer, list, total)
        copied += out.length
        return out
    }) as typeof Buffer.concat
    Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer["copy"]>) {
        const n = copy.apply(this, args)
        copied += n
        return n
    }
    try {
        f()
    } finally {
        Buffer.concat = concat
        Buffer.prototype.copy = copy
    }
    return copied
}

describe("MQTT transport", () => {
    it("allows one and a half keepalive periods of silence, none for keepalive 0, at most 1.5 x 1177 s", () => {
        assert.strictEqual(keepaliveTimeoutMs(0), 0)
        assert.strictEqual(keepaliveTimeoutMs(1), 1500)
        assert.strictEqual(keepaliveTimeoutMs(60), 90_000)
        assert.strictEqual(keepaliveTimeoutMs(1177), 1_765_500)
        assert.strictEqual(keepaliveTimeoutMs(1178), 1_767_000)
        assert.strictEqual(keepaliveTimeoutMs(65_535), 1_767_000)
    })

    describe("framing", () => {
        it("copies each byte of a packet sent one byte at a time at most twice", () => {
            // A PUBLISH with a 20 KB payload: remaining length in 3 bytes.
            const payload = Buffer.alloc(20_000, 7)
            const packet = Buffer.concat([Buffer.from([0x30, 0xa2, 0x9c, 0x01, 0x00, 0x00]), payload])
            const framer = new MqttFramer(64 * 1024)
            const frames: Buffer[] = []
            const copied = bytesCopied(() => {
                for (let i = 0; i < packet.length; i++) {
                    const r = framer.push(packet.subarray(i, i + 1))
                    assert.ok("frames" in r)
                    frames.push(...r.frames)
                }
            })
            assert.strictEqual(frames.length, 1)
            assert.ok(frames[0].equals(packet))
            assert.ok(copied <= 2 * packet.length, `copied ${copied} bytes for a packet of ${packet.length}`)
        })

        it("cuts packets split anywhere and glued together, and bounds the first packet separately", () => {
            const a = Buffer.from([0xc0, 0x00]) // PINGREQ
            const b = Buffer.concat([Buffer.from([0x30, 0x05, 0x00, 0x01, 0x74]), Buffer.from("hi")])
            const stream = Buffer.concat([a, b, a, b])
            for (let cut = 0; cut <= stream.length; cut++) {
                const f = new MqttFramer(100)
                const r1 = f.push(stream.subarray(0, cut))
                const r2 = f.push(stream.subarray(cut))
                assert.ok("frames" in r1 && "frames" in r2)
                assert.deepStrictEqual(
                    [...r1.frames, ...r2.frames].map((x) => x.toString("hex")),
                    [a, b, a, b].map((x) => x.toString("hex"))
                )
            }
            const big = Buffer.concat([Buffer.from([0x10, 0x90, 0x01]), Buffer.alloc(0x90)])
            assert.deepStrictEqual(new MqttFramer(1024, 100).push(big), { error: "first packet of 147 bytes exceeds 100" })
            const second = new MqttFramer(1024, 100).push(Buffer.concat([a, big]))
            assert.ok("frames" in second && second.frames.length === 2)
        })

        it("cuts a stream of several packets sent one byte at a time into exactly those packets", () => {
            const packets = [
                Buffer.from([0xc0, 0x00]),
                Buffer.concat([Buffer.from([0x30, 0x05, 0x00, 0x01, 0x74]), Buffer.from("hi")]),
                Buffer.from([0xe0, 0x00]),
            ]
            const stream = Buffer.concat([...packets, ...packets])
            const f = new MqttFramer(100)
            const frames: string[] = []
            for (let i = 0; i < stream.length; i++) {
                const r = f.push(stream.subarray(i, i + 1))
                assert.ok("frames" in r)
                frames.push(...r.frames.map((x) => x.toString("hex")))
            }
            assert.deepStrictEqual(
                frames,
                [...packets, ...packets].map((x) => x.toString("hex"))
            )
        })

        it("reads remaining lengths of one to four bytes and refuses a fifth", () => {
            assert.deepStrictEqual(readFixedHeader(Buffer.from([0xc0, 0x00])), { headerLen: 2, remaining: 0 })
            assert.deepStrictEqual(readFixedHeader(Buffer.from([0x30, 0xc1, 0x02])), { headerLen: 3, remaining: 321 })
            assert.deepStrictEqual(readFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])), { headerLen: 5, remaining: 268_435_455 })
            assert.strictEqual(readFixedHeader(Buffer.from([0x30])), null)
            assert.strictEqual(readFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff])), null)
            assert.strictEqual(readFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])), "malformed")
            assert.deepStrictEqual(new MqttFramer(1024).push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])), { error: "malformed remaining length" })
        })

        it("takes a packet of exactly the limit, header included, and refuses one byte more", () => {
            const packet = (total: number) => Buffer.concat([Buffer.from([0x30, total - 2]), Buffer.alloc(total - 2)])
            const f = new MqttFramer(100, 50)
            const r = f.push(Buffer.concat([packet(50), packet(100)]))
            assert.ok("frames" in r)
            assert.deepStrictEqual(
                r.frames.map((x) => x.length),
                [50, 100]
            )
            assert.deepStrictEqual(f.push(packet(101)), { error: "packet of 101 bytes exceeds 100" })
            assert.deepStrictEqual(new MqttFramer(100, 50).push(packet(51)), { error: "first packet of 51 bytes exceeds 50" })
        })
    })

    it("decodes PUBLISH frames as mqtt-packet does, errors included, also when fuzzed", () => {
        const valid = [
            { topic: "devices/d/messages/events/%24.ct=application%2Fjson", payload: '{"t":21.5}', qos: 1, messageId: 7, dup: false, retain: false },
            { topic: "t", payload: "", qos: 0, dup: false, retain: true },
            { topic: "$iothub/twin/GET/?$rid=1", payload: Buffer.alloc(300, 1), qos: 1, messageId: 65535, dup: true, retain: false },
        ].map((p) => mqtt.generate({ cmd: "publish", ...p } as mqtt.IPublishPacket))
        const seed = fuzzSeed(1405)
        const frames = fuzzPackets(seed, 4000, valid, 40).flatMap((b) => {
            const r = new MqttFramer(1024).push(b)
            return "frames" in r ? r.frames.filter((f) => f[0] >> 4 === PUBLISH_TYPE) : []
        })
        const shape = (p: mqtt.Packet | { error: string }) =>
            "error" in p ? p : { ...p, payload: Buffer.from((p as mqtt.IPublishPacket).payload as Buffer).toString("hex") }
        let compared = 0
        for (const f of frames) {
            let expected: object | undefined
            const parser = mqtt.parser()
            // mqtt-packet takes a QoS 1 PUBLISH cut before its packet id as id -1; a malformed packet is refused here.
            parser.on("packet", (p: mqtt.Packet) => (expected = p.messageId === -1 ? { error: "Cannot parse messageId" } : shape(p)))
            parser.on("error", (e: Error) => (expected = { error: e.message }))
            parser.parse(f)
            assert.deepStrictEqual(shape(decodePublish(f)), expected, `frame ${f.toString("hex")} (fuzz seed ${seed})`)
            compared++
        }
        assert.ok(compared > 1000, `only ${compared} PUBLISH frames compared`)
    })

    describe("over TLS", () => {
        let emu: RunningEmulator
        const dev = hubDevice("dev-t")
        before(async () => {
            emu = await startTestEmulator({ devices: [dev] })
        })
        after(() => emu.stop())

        it("never acknowledges a QoS 1 publish that the hub refuses", async () => {
            for (const topic of ["devices/dev-t/messages/events/k=a/b", "devices/dev-t/messages/nowhere/"]) {
                const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-t", key: dev.primaryKey })
                const ok = publish(client, "devices/dev-t/messages/events/", "fine")
                const refused = publish(client, topic, "x")
                await client.closed
                const acked = client.received.filter((p) => p.cmd === "puback").map((p) => p.messageId)
                assert.deepStrictEqual(acked, [ok], `${topic}: only the accepted message is acknowledged, not ${refused}`)
            }
            const stored = emu.emulator.service.telemetry("dev-t").map((m) => m.body.toString())
            assert.deepStrictEqual(stored, ["fine", "fine"])
        })

        it("closes on a QoS 1 PUBLISH cut before its packet id, without taking the message", async () => {
            const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-t", key: dev.primaryKey })
            const before = emu.emulator.service.telemetry("dev-t").length
            const err = nextEvent(emu.emulator, "connection.error")
            const topic = Buffer.from("devices/dev-t/messages/events/")
            client.write(Buffer.concat([Buffer.from([0x32, 2 + topic.length, 0, topic.length]), topic]))
            await client.closed
            assert.strictEqual((await err).reason, "malformed packet: Cannot parse messageId")
            assert.strictEqual(emu.emulator.service.telemetry("dev-t").length, before)
        })

        it("acknowledges a message ahead of the answers to it", async () => {
            const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-t", key: dev.primaryKey })
            await client.subscribe("$iothub/twin/res/#")
            const id = publish(client, "$iothub/twin/PATCH/properties/reported/?$rid=9", '{"a":1}')
            await client.next((p) => p.cmd === "publish" && p.topic.startsWith("$iothub/twin/res/204/"))
            const order = client.received.filter((p) => p.cmd === "puback" || p.cmd === "publish").map((p) => p.cmd)
            assert.deepStrictEqual(order, ["puback", "publish"])
            assert.strictEqual((client.received.find((p) => p.cmd === "puback") as { messageId: number }).messageId, id)
            client.close()
        })

        it("acknowledges pipelined messages made durable by one commit in one TLS record", async () => {
            /** TCP bytes the server sent on a connection that published `n` messages in one write. */
            const wireOut = async (n: number) => {
                const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-t", key: dev.primaryKey })
                const packets = [...Array(n).keys()].map((i) =>
                    mqtt.generate({
                        cmd: "publish",
                        topic: "devices/dev-t/messages/events/",
                        payload: `m${i}`,
                        qos: 1,
                        messageId: i + 1,
                        dup: false,
                        retain: false,
                    })
                )
                client.write(Buffer.concat(packets))
                await until("every PUBACK", () => client.received.filter((p) => p.cmd === "puback").length === n, 5000)
                const closed = new Promise<number>((resolve) =>
                    emu.emulator.on("connection.close", function on(c) {
                        if (c.clientId !== "dev-t") return
                        emu.emulator.off("connection.close", on)
                        resolve(c.wireBytesOut)
                    })
                )
                client.close()
                return closed
            }
            const one = await wireOut(1)
            const twenty = await wireOut(20)
            // A PUBACK is 4 bytes; a second TLS record would add over 20 more.
            assert.ok(twenty - one <= 19 * 4 + 8, `19 more PUBACKs cost ${twenty - one} bytes on the wire`)
        })

        it("closes the connection rather than frame an answer whose topic MQTT cannot carry", async () => {
            const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-t", key: dev.primaryKey })
            await client.subscribe("$iothub/twin/res/#")
            const err = nextEvent(emu.emulator, "connection.error")
            // The request's topic fits; the answer's, echoing the same $rid after a longer prefix, would not.
            const prefix = "$iothub/twin/GET/?$rid="
            publish(client, prefix + "r".repeat(65_535 - prefix.length), "")
            await client.closed
            assert.match((await err).reason, /topic of 65539 bytes \(MQTT allows 65535\)/)
            assert.ok(!client.received.some((p) => p.cmd === "publish"))
            const again = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-t", key: dev.primaryKey })
            assert.strictEqual(again.code, 0)
            again.client.close()
        })

        it("closes a connection whose first packet is larger than a CONNECT needs", async () => {
            const c = await RawClient.open(emu.mqttPort, emu.ca)
            const err = nextEvent(emu.emulator, "connection.error")
            c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "x".repeat(20_000), clean: true, keepalive: 60 })
            await c.closed
            assert.match((await err).reason, /first packet of \d+ bytes exceeds 8192/)
            assert.ok(!c.received.some((p) => p.cmd === "connack"))
        })
    })

    it("closes new connections at once while too many wait to authenticate, and admits again after", async () => {
        const files = await testPki()
        const material = { cert: fs.readFileSync(files.serverCertFile, "utf8"), key: fs.readFileSync(files.serverKeyFile, "utf8") }
        const admit: (() => void)[] = []
        const refused: string[] = []
        const listener = await startTlsListener(
            material,
            "127.0.0.1",
            0,
            (_sock, _wire, authenticated) => admit.push(authenticated),
            (_r, reason) => refused.push(reason),
            2
        )
        const open = () =>
            new Promise<net.Socket>((resolve) => {
                const s = net.connect(listener.port, "127.0.0.1", () => resolve(s))
                s.on("error", () => {})
            })
        const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())))
        try {
            // Two silent TCP clients hold both places (no handshake at all).
            const [s1, s2] = [await open(), await open()]
            const s3 = await open()
            await closed(s3)
            assert.match(refused[0], /2 connections are already waiting to authenticate/)
            s1.destroy()
            await closed(s1)
            // A freed place takes a TLS client, which stops counting once authenticated.
            const ca = fs.readFileSync(files.rootCertFile, "utf8")
            const t = await RawClient.open(listener.port, ca)
            await until("the server side of the handshake", () => admit.length > 0, 5000)
            admit[0]()
            const s4 = await open()
            const s5 = await open()
            await closed(s5)
            assert.ok(!s4.destroyed && t.isOpen)
            for (const s of [s2, s4]) s.destroy()
            t.close()
        } finally {
            await listener.close()
        }
    })
})
