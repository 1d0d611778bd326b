// The IoT Hub face over MQTT/TLS with a raw client: who may connect, telemetry and its property
// bags, twin, direct methods, C2D, the cloud's strictness, SAS expiry and hostile bytes.
import * as assert from "assert"
import { fuzzPackets, fuzzSeed, withSeed } from "./fuzz-packets"
import mqtt = require("mqtt-packet")
import { HubServiceError } from "../../sim/emulator"
import { nextEvent, randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { HubConnectOptions, hubConnect, hubConnectPacket, hubDevice, nextPublish, publish } from "./hub-fixtures"

describe("IoT Hub face", () => {
    let emu: RunningEmulator
    const a = hubDevice("dev-a")
    const b = hubDevice("dev-b")
    const off = hubDevice("dev-off", "disabled")
    const spare = hubDevice("dev-spare")
    const c2d = hubDevice("dev-c2d")
    const full = hubDevice("dev-full")
    const svc = () => emu.emulator.service

    before(async () => {
        // No clock skew, so a token expiring in 2 s really expires in 2 s.
        emu = await startTestEmulator({ devices: [a, b, off, spare, c2d, full], sasSkewSec: 0 })
    })
    after(() => emu.stop())

    async function connected(o: HubConnectOptions): Promise<RawClient> {
        const r = await hubConnect(emu.mqttPort, emu.ca, o)
        assert.strictEqual(r.code, 0)
        return r.client
    }

    /** A connection the server should close; resolves with the reason it gives. */
    async function closedBy(c: RawClient, act: () => void): Promise<string> {
        const err = nextEvent(emu.emulator, "connection.error")
        act()
        await c.closed
        return (await err).reason
    }

    describe("CONNECT", () => {
        const now = () => Math.floor(Date.now() / 1000)
        const accepted: [string, HubConnectOptions, "primary" | "secondary"][] = [
            ["a good SAS (Node SDK form)", { deviceId: "dev-a", key: a.primaryKey }, "primary"],
            ["the secondary key", { deviceId: "dev-a", key: a.secondaryKey }, "secondary"],
            ["a host with a port, in user name and sr", { deviceId: "dev-a", key: a.primaryKey, host: "localhost:8883" }, "primary"],
            [
                "an upper-case host and an unencoded sr",
                { deviceId: "dev-a", key: a.primaryKey, host: "LOCALHOST", srRaw: "LOCALHOST/devices/dev-a" },
                "primary",
            ],
            [
                "a user name without `?` (azure-sdk-for-c)",
                { deviceId: "dev-a", key: a.primaryKey, username: "localhost/dev-a/api-version=2020-09-30" },
                "primary",
            ],
        ]
        for (const [what, o, key] of accepted)
            it(`accepts ${what}`, async () => {
                const ev = nextEvent(emu.emulator, "hub.connect")
                const c = await connected(o)
                assert.deepStrictEqual([(await ev).deviceId, (await ev).key], ["dev-a", key])
                c.close()
            })

        const refused: [string, HubConnectOptions, RegExp][] = [
            ["a bad signature", { deviceId: "dev-a", key: randomKey() }, /signature/],
            ["an expired token", { deviceId: "dev-a", key: a.primaryKey, se: now() - 60 }, /expired/],
            ["an sr naming another device", { deviceId: "dev-a", key: a.primaryKey, srRaw: "localhost%2Fdevices%2Fdev-b" }, /does not name/],
            ["a client id that is not the device id", { deviceId: "dev-a", key: a.primaryKey, clientId: "dev-b" }, /client id/],
            ["an unknown device", { deviceId: "dev-nobody", key: a.primaryKey }, /not registered/],
            ["a device id in the wrong case", { deviceId: "DEV-A", key: a.primaryKey }, /not registered/],
            ["a disabled device", { deviceId: "dev-off", key: off.primaryKey }, /disabled/],
            ["an unknown hub", { deviceId: "dev-a", key: a.primaryKey, host: "other.azure-devices.net" }, /unknown hub/],
        ]
        for (const [what, o, reason] of refused)
            it(`refuses ${what} with CONNACK 5`, async () => {
                const ev = nextEvent(emu.emulator, "hub.refused")
                const r = await hubConnect(emu.mqttPort, emu.ca, o)
                assert.strictEqual(r.code, 5)
                await r.client.closed
                assert.match((await ev).reason, reason)
            })

        it("keeps one connection per device: a second CONNECT drops the first", async () => {
            const first = await connected({ deviceId: "dev-b", key: b.primaryKey })
            const closed = nextEvent(emu.emulator, "connection.close")
            const second = await connected({ deviceId: "dev-b", key: b.primaryKey })
            await first.closed
            assert.match((await closed).reason, /took over/)
            assert.ok(second.isOpen)
            assert.strictEqual(svc().getDevice("dev-b").connectionState, "Connected")
            second.close()
        })

        it("disconnects the device when its SAS token expires", async () => {
            const c = await connected({ deviceId: "dev-spare", key: spare.primaryKey, se: now() + 2 })
            const closed = nextEvent(emu.emulator, "connection.close")
            await c.closed
            assert.match((await closed).reason, /SAS token expired/)
        })
    })

    describe("telemetry", () => {
        it("decodes the property bag into system and application properties and stores the message", async () => {
            const c = await connected({ deviceId: "dev-a", key: a.primaryKey })
            const ev = nextEvent(emu.emulator, "hub.telemetry")
            const id = publish(c, "devices/dev-a/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&%24.mid=m1&alert=yes&note=a%26b%3Dc%2Fd", '{"t":21.5}')
            await c.next((p) => p.cmd === "puback" && p.messageId === id)
            const m = await ev
            assert.deepStrictEqual(m.systemProperties, { contentType: "application/json", contentEncoding: "utf-8", messageId: "m1" })
            assert.deepStrictEqual(m.properties, { alert: "yes", note: "a&b=c/d" })
            assert.strictEqual(m.body.toString(), '{"t":21.5}')
            const ev2 = nextEvent(emu.emulator, "hub.telemetry")
            publish(c, "devices/dev-a/messages/events/", "plain", 0)
            const m2 = await ev2
            assert.deepStrictEqual([m2.properties, m2.systemProperties], [{}, {}])
            assert.ok(m2.sequenceNumber > m.sequenceNumber)
            const stored = svc().telemetry("dev-a").slice(-2)
            assert.deepStrictEqual(
                stored.map((s) => s.body.toString()),
                ['{"t":21.5}', "plain"]
            )
            c.close()
        })

        for (const bag of ["k=a/b", "k=a:b", "k=a=b", "k=%zz"])
            it(`closes the connection on the bag ${bag}`, async () => {
                const c = await connected({ deviceId: "dev-a", key: a.primaryKey })
                assert.match(await closedBy(c, () => publish(c, `devices/dev-a/messages/events/${bag}`, "x")), /reserved|percent/)
            })

        it("closes the connection on QoS 2, an unknown topic, another device's topic and a message over 256 KB", async () => {
            const cases: [string, string | Buffer, 0 | 1 | 2, RegExp][] = [
                ["devices/dev-a/messages/events/", "x", 2, /QoS 2/],
                ["devices/dev-a/messages/nowhere/", "x", 1, /unknown topic/],
                ["devices/dev-b/messages/events/", "x", 1, /unknown topic/],
                ["devices/dev-a/messages/events/", Buffer.alloc(256 * 1024), 1, /exceeds/],
            ]
            for (const [topic, body, qos, reason] of cases) {
                const c = await connected({ deviceId: "dev-a", key: a.primaryKey })
                assert.match(await closedBy(c, () => publish(c, topic, body, qos)), reason)
            }
            const c = await connected({ deviceId: "dev-a", key: a.primaryKey })
            const id = publish(c, "devices/dev-a/messages/events/", Buffer.alloc(200 * 1024))
            await c.next((p) => p.cmd === "puback" && p.messageId === id)
            c.close()
        })
    })

    it("grants the hub's filters (QoS 2 as 1), refuses others and a sixth subscription", async () => {
        const c = await connected({ deviceId: "dev-a", key: a.primaryKey, clean: true })
        c.send({ cmd: "subscribe", messageId: 77, subscriptions: [{ topic: "devices/dev-a/messages/devicebound/#", qos: 2 }] })
        assert.deepStrictEqual(((await c.next((p) => p.cmd === "suback")) as mqtt.ISubackPacket).granted, [1])
        assert.deepStrictEqual(await c.subscribe("devices/+/messages/devicebound/#", 1), [1])
        assert.deepStrictEqual(await c.subscribe("$iothub/twin/res/#", 0), [0])
        assert.deepStrictEqual(await c.subscribe("$iothub/twin/PATCH/properties/desired/#", 1), [1])
        assert.deepStrictEqual(await c.subscribe("$iothub/methods/POST/#", 0), [0])
        // Resubscribing is no new subscription; a sixth filter is refused.
        assert.deepStrictEqual(await c.subscribe("$iothub/twin/res/#", 1), [1])
        assert.deepStrictEqual(await c.subscribe("devices/dev-a/messages/events/#", 1), [0x80])
        assert.ok(c.isOpen)
        c.close()
    })

    describe("twin", () => {
        async function twinClient(): Promise<RawClient> {
            const c = await connected({ deviceId: "dev-b", key: b.primaryKey, clean: true })
            await c.subscribe("$iothub/twin/res/#", 0)
            return c
        }
        async function request(c: RawClient, topic: string, rid: string, body: string) {
            publish(c, topic, body, 0)
            const p = await nextPublish(c, "$iothub/twin/res/")
            assert.ok(p.topic.includes(`?$rid=${rid}`), p.topic)
            const text = p.payload.toString()
            return { topic: p.topic, body: text ? JSON.parse(text) : undefined }
        }
        const get = (c: RawClient, rid: string) => request(c, `$iothub/twin/GET/?$rid=${rid}`, rid, " ")
        const patch = (c: RawClient, rid: string, body: string) => request(c, `$iothub/twin/PATCH/properties/reported/?$rid=${rid}`, rid, body)

        it("answers GET, applies reported merge patches with $version and the 204 reply, and deletes on null", async () => {
            const c = await twinClient()
            const first = await get(c, "r1")
            assert.strictEqual(first.topic, "$iothub/twin/res/200/?$rid=r1")
            assert.deepStrictEqual(first.body, { desired: { $version: 1 }, reported: { $version: 1 } })
            const r2 = await patch(c, "r2", JSON.stringify({ fw: "1.0", sensor: { rate: 5, unit: "C" } }))
            assert.deepStrictEqual(r2, { topic: "$iothub/twin/res/204/?$rid=r2&$version=2", body: undefined })
            const r3 = await patch(c, "r3", JSON.stringify({ fw: null, sensor: { unit: null } }))
            assert.strictEqual(r3.topic, "$iothub/twin/res/204/?$rid=r3&$version=3")
            assert.deepStrictEqual((await get(c, "r4")).body.reported, { sensor: { rate: 5 }, $version: 3 })
            assert.deepStrictEqual(svc().getTwin("dev-b").properties.reported, { sensor: { rate: 5 }, $version: 3 })
            c.close()
        })

        it("answers 400 to bad JSON or property names and 413 beyond 32 KB, leaving the twin as it was", async () => {
            const c = await twinClient()
            const before = (await get(c, "g1")).body.reported
            const bad = await patch(c, "p1", "{not json")
            assert.strictEqual(bad.topic, "$iothub/twin/res/400/?$rid=p1")
            assert.strictEqual(bad.body.errorCode, 400004)
            assert.strictEqual((await patch(c, "p2", '{"a.b":1}')).body.errorCode, 400004)
            const big = await patch(c, "p3", JSON.stringify(Object.fromEntries([...Array(34).keys()].map((i) => [`k${i}`, "x".repeat(1000)]))))
            assert.strictEqual(big.topic, "$iothub/twin/res/413/?$rid=p3")
            assert.deepStrictEqual((await get(c, "g2")).body.reported, before)
            c.close()
        })

        it("pushes desired updates from the service with ?$version= and the version in the body", async () => {
            const c = await twinClient()
            await c.subscribe("$iothub/twin/PATCH/properties/desired/#", 1)
            const r = svc().updateDesired("dev-b", { interval: 10, mode: { eco: true } })
            assert.deepStrictEqual(r, { version: 2, delivered: true })
            const p = await nextPublish(c, "$iothub/twin/PATCH/properties/desired/")
            assert.strictEqual(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=2")
            assert.deepStrictEqual(JSON.parse(p.payload.toString()), { interval: 10, mode: { eco: true }, $version: 2 })
            assert.deepStrictEqual((await get(c, "g3")).body.desired, { interval: 10, mode: { eco: true }, $version: 2 })
            const gone = nextEvent(emu.emulator, "connection.close")
            c.close()
            await gone
            // Offline: stored, not replayed (the device compares $version after its GET).
            assert.deepStrictEqual(svc().updateDesired("dev-b", { interval: null }), { version: 3, delivered: false })
            assert.throws(
                () => svc().updateDesired("dev-b", { $bad: 1 }),
                (e: HubServiceError) => e.errorCode === 400004
            )
        })
    })

    describe("direct methods", () => {
        async function methodClient(): Promise<RawClient> {
            const c = await connected({ deviceId: "dev-a", key: a.primaryKey, clean: true })
            await c.subscribe("$iothub/methods/POST/#", 0)
            return c
        }

        it("delivers the request at QoS 0 and returns the device's status and JSON payload", async () => {
            const c = await methodClient()
            const call = svc().invokeMethod("dev-a", "setInterval", { seconds: 5 }, 5)
            const req = await nextPublish(c, "$iothub/methods/POST/")
            const m = /^\$iothub\/methods\/POST\/setInterval\/\?\$rid=(.+)$/.exec(req.topic)!
            assert.ok(m, req.topic)
            assert.strictEqual(req.qos, 0)
            assert.deepStrictEqual(JSON.parse(req.payload.toString()), { seconds: 5 })
            publish(c, `$iothub/methods/res/200/?$rid=${m[1]}`, '{"interval":5}', 0)
            assert.deepStrictEqual(await call, { status: 200, payload: { interval: 5 } })
            c.close()
        })

        it("gives 504101 when the device does not answer in time and ignores the late answer", async () => {
            const c = await methodClient()
            const call = svc().invokeMethod("dev-a", "slow", null, 0.3)
            const req = await nextPublish(c, "$iothub/methods/POST/slow/")
            await assert.rejects(call, (e: HubServiceError) => e.errorCode === 504101 && e.status === 504)
            publish(c, req.topic.replace("POST/slow", "res/200"), "{}", 0)
            c.send({ cmd: "pingreq" })
            await c.next((p) => p.cmd === "pingresp")
            assert.ok(c.isOpen)
            c.close()
        })

        it("gives 404103 for a device that is not online, and 404001 for an unknown one", async () => {
            await assert.rejects(svc().invokeMethod("dev-off", "any"), (e: HubServiceError) => e.errorCode === 404103)
            await assert.rejects(svc().invokeMethod("dev-nobody", "any"), (e: HubServiceError) => e.errorCode === 404001)
        })
    })

    describe("cloud-to-device", () => {
        it("delivers at QoS 1 with %24.-encoded system properties and encoded values; PUBACK completes it", async () => {
            const c = await connected({ deviceId: "dev-c2d", key: c2d.primaryKey, clean: true })
            await c.subscribe("devices/dev-c2d/messages/devicebound/#", 1)
            const done = nextEvent(emu.emulator, "hub.c2d.completed")
            const id = svc().sendC2d("dev-c2d", "hello", { properties: { "a#b": "x%y&z+1" }, contentType: "text/plain", messageId: "m-1" })
            const p = await nextPublish(c, "devices/dev-c2d/messages/devicebound/")
            assert.strictEqual(
                p.topic,
                "devices/dev-c2d/messages/devicebound/%24.mid=m-1&%24.to=%2Fdevices%2Fdev-c2d%2Fmessages%2FdeviceBound&%24.ct=text%2Fplain&a%23b=x%25y%26z%2B1"
            )
            assert.strictEqual(p.qos, 1)
            assert.strictEqual(p.payload.toString(), "hello")
            assert.deepStrictEqual(await done, { deviceId: "dev-c2d", messageId: id })
            assert.strictEqual(svc().getDevice("dev-c2d").cloudToDeviceMessageCount, 0)
            c.close()
        })

        it("redelivers an unacknowledged message when a clean=0 session reconnects, without re-subscribing", async () => {
            const first = await connected({ deviceId: "dev-c2d", key: c2d.primaryKey, clean: false })
            first.autoAck = false
            await first.subscribe("devices/dev-c2d/messages/devicebound/#", 1)
            svc().sendC2d("dev-c2d", "again", { messageId: "m-2" })
            await nextPublish(first, "devices/dev-c2d/messages/devicebound/")
            first.close()
            await first.closed
            const sent = nextEvent(emu.emulator, "hub.c2d.sent")
            const done = nextEvent(emu.emulator, "hub.c2d.completed")
            const r = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-c2d", key: c2d.primaryKey, clean: false })
            assert.strictEqual(r.sessionPresent, true)
            const p = await nextPublish(r.client, "devices/dev-c2d/messages/devicebound/")
            assert.strictEqual(p.payload.toString(), "again")
            assert.deepStrictEqual(await sent, { deviceId: "dev-c2d", messageId: "m-2", deliveryCount: 2 })
            assert.strictEqual((await done).messageId, "m-2")
            r.client.close()
            // clean=1 ends the stored session.
            const clean = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-c2d", key: c2d.primaryKey, clean: true })
            assert.strictEqual(clean.sessionPresent, false)
            clean.client.close()
        })

        it("holds at most 50 pending messages per device", () => {
            for (let i = 0; i < 50; i++) svc().sendC2d("dev-full", `m${i}`)
            assert.throws(
                () => svc().sendC2d("dev-full", "one too many"),
                (e: HubServiceError) => e.errorCode === 403004 && /50/.test(e.message)
            )
            assert.strictEqual(svc().getDevice("dev-full").cloudToDeviceMessageCount, 50)
        })
    })

    describe("identities from the service side", () => {
        it("a disabled device is disconnected and refused; enabled again it connects", async () => {
            const c = await connected({ deviceId: "dev-spare", key: spare.primaryKey })
            svc().setDeviceStatus("dev-spare", "disabled")
            await c.closed
            assert.strictEqual((await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-spare", key: spare.primaryKey })).code, 5)
            svc().setDeviceStatus("dev-spare", "enabled")
            const again = await connected({ deviceId: "dev-spare", key: spare.primaryKey })
            again.close()
        })

        it("a deleted device is disconnected and then unknown", async () => {
            const c = await connected({ deviceId: "dev-spare", key: spare.primaryKey })
            svc().deleteDevice("dev-spare")
            await c.closed
            assert.strictEqual((await hubConnect(emu.mqttPort, emu.ca, { deviceId: "dev-spare", key: spare.primaryKey })).code, 5)
            assert.ok(
                !svc()
                    .listDevices()
                    .some((d) => d.deviceId === "dev-spare")
            )
        })
    })

    it("survives random and mutated packets, then still serves a good device", async () => {
        const valid = [
            mqtt.generate(hubConnectPacket({ deviceId: "dev-a", key: a.primaryKey })),
            mqtt.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$iothub/twin/res/#", qos: 1 }] }),
            mqtt.generate({ cmd: "publish", topic: "devices/dev-a/messages/events/a=1", payload: "{}", qos: 1, messageId: 2, dup: false, retain: false }),
        ]
        const seed = fuzzSeed(1102)
        const fuzz = fuzzPackets(seed, 120, valid, 61)
        const sends: Promise<void>[] = []
        for (let i = 0; i < fuzz.length; i++) {
            const bytes = fuzz[i]
            sends.push(
                (async () => {
                    const c = await RawClient.open(emu.mqttPort, emu.ca)
                    if (i % 3 === 0) c.send(hubConnectPacket({ deviceId: "dev-b", key: b.primaryKey }))
                    c.write(bytes)
                    c.sock.end()
                    await c.closed
                })()
            )
        }
        await withSeed(seed, async () => {
            await Promise.all(sends)
            const c = await connected({ deviceId: "dev-a", key: a.primaryKey })
            const id = publish(c, "devices/dev-a/messages/events/", "still here")
            await c.next((p) => p.cmd === "puback" && p.messageId === id)
            c.close()
        })
    })
})
