// The DPS face over MQTT/TLS: the register -> assigning -> assigned flow with the exact
// topics and JSON of the reference, every client dialect, injected faults, and hostile bytes.
import * as assert from "assert"
import { randomUUID } from "crypto"
import mqtt = require("mqtt-packet")
import { sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { fuzzPackets, fuzzSeed, withSeed } from "./fuzz-packets"
import { group, individual, provision } from "./fixtures"
import { nextEvent, RunningEmulator, startTestEmulator } from "../support/emulator"
import { DpsAnswer, dpsConnectPacket, RawClient } from "../support/raw-mqtt-client"

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/

describe("DPS face", () => {
    let emu: RunningEmulator
    const dev = individual("dev-01", { deviceId: "device-one" })
    const grp = group("fleet")
    const throttled = individual("dev-throttled", { faults: { throttle: 1, retryAfter: 2 } })
    const flaky = individual("dev-flaky", { faults: { serverError: 2, serverErrorStatus: 500 } })
    const doomed = individual("dev-doomed", { faults: { failAllocation: { errorCode: 400209, errorMessage: "No hub is linked" } } })
    const slow = individual("dev-slow", { faults: { pollsBeforeAssigned: 3, retryAfter: 1 } })
    const quick = individual("dev-quick", { faults: { pollsBeforeAssigned: 0 } })
    const key = (e: { attestation: { primaryKey: string } }) => e.attestation.primaryKey

    before(async () => {
        emu = await startTestEmulator({ enrollments: [dev, grp, throttled, flaky, doomed, slow, quick], dps: { retryAfter: 3 } })
    })
    after(() => emu.stop())

    async function connected(registrationId: string, k: string, extra: object = {}): Promise<RawClient> {
        const c = await RawClient.open(emu.mqttPort, emu.ca)
        assert.strictEqual(await c.connect({ registrationId, key: k, ...extra }), 0)
        return c
    }

    it("registers, answers 202 assigning with retry-after, then assigns on the second poll (Node SDK dialect)", async () => {
        const c = await connected("dev-01", key(dev))
        assert.deepStrictEqual(await c.subscribe(), [1])
        const rid = randomUUID()
        const reg = await c.register(rid, { registrationId: "dev-01" })
        assert.strictEqual(reg.topic, `$dps/registrations/res/202/?$rid=${rid}&retry-after=3`)
        assert.deepStrictEqual(Object.keys(reg.body), ["operationId", "status"])
        assert.strictEqual(reg.body.status, "assigning")
        assert.match(reg.body.operationId, /^4\.[0-9a-f]{16}\.[0-9a-f-]{36}$/)

        const rid2 = randomUUID()
        const first = await c.poll(rid2, reg.body.operationId, " ")
        assert.strictEqual(first.topic, `$dps/registrations/res/202/?$rid=${rid2}&retry-after=3`)
        assert.deepStrictEqual(first.body, {
            operationId: reg.body.operationId,
            status: "assigning",
            registrationState: { registrationId: "dev-01", status: "assigning" },
        })

        const rid3 = randomUUID()
        const done = await c.poll(rid3, reg.body.operationId, " ")
        assert.strictEqual(done.topic, `$dps/registrations/res/200/?$rid=${rid3}`)
        assert.strictEqual(done.body.operationId, reg.body.operationId)
        assert.strictEqual(done.body.status, "assigned")
        const s = done.body.registrationState
        assert.deepStrictEqual(Object.keys(s), [
            "registrationId",
            "createdDateTimeUtc",
            "assignedHub",
            "deviceId",
            "status",
            "substatus",
            "lastUpdatedDateTimeUtc",
            "etag",
        ])
        assert.deepStrictEqual(
            { registrationId: s.registrationId, assignedHub: s.assignedHub, deviceId: s.deviceId, status: s.status, substatus: s.substatus },
            { registrationId: "dev-01", assignedHub: "localhost", deviceId: "device-one", status: "assigned", substatus: "initialAssignment" }
        )
        assert.match(s.createdDateTimeUtc, ISO)
        assert.match(s.lastUpdatedDateTimeUtc, ISO)
        assert.ok(s.etag.length > 0)
        // Every response was QoS 1; the client acknowledged each and the session stays up.
        assert.ok(c.received.filter((p) => p.cmd === "publish").every((p) => (p as mqtt.IPublishPacket).qos === 1))
        assert.ok(c.isOpen)
        assert.strictEqual(emu.emulator.registration("DEV-01")?.status, "assigned")
        c.close()
    })

    it("assigns a group device under its registration id and names the group", async () => {
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "fleet-42", key: sasDeriveDeviceKey(key(grp), "fleet-42") })
        const s = answers[answers.length - 1].body.registrationState
        assert.strictEqual(s.deviceId, "fleet-42")
        assert.strictEqual(s.assignedHub, "localhost")
        assert.deepStrictEqual(s.symmetricKey, { enrollmentGroupId: "fleet" })
    })

    it("stores the custom payload and does not echo it (only a custom allocation returns a payload)", async () => {
        const payload = { modelId: "dtmi:com:example:Thermostat;1", site: { floor: 3 } }
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "fleet-pnp", key: sasDeriveDeviceKey(key(grp), "fleet-pnp") }, payload)
        assert.strictEqual(answers[answers.length - 1].body.registrationState.status, "assigned")
        assert.ok(!("payload" in answers[answers.length - 1].body.registrationState))
        assert.deepStrictEqual(emu.emulator.registration("fleet-pnp")?.payload, payload)
    })

    it("speaks the azure-iot-sdk-c dialect: api-version 2021-06-01, keepalive 0, QoS 0, packet-id $rid, register JSON as poll body", async () => {
        const c = await connected("fleet-c", sasDeriveDeviceKey(key(grp), "fleet-c"), { apiVersion: "2021-06-01", keepalive: 0 })
        await c.subscribe()
        const body = JSON.stringify({ registrationId: "fleet-c" })
        const reg = await c.register("2", body, 0)
        const p1 = await c.poll("3", reg.body.operationId, body, 0)
        const p2 = await c.poll("4", reg.body.operationId, body, 0)
        assert.deepStrictEqual([reg.status, p1.status, p2.status], [202, 202, 200])
        assert.strictEqual(p2.body.status, "assigned")
        c.close()
    })

    it("speaks the azure-sdk-for-c dialect: clean 0, %2f sr, $rid always 1, empty poll body, QoS 0 subscription", async () => {
        const k = sasDeriveDeviceKey(key(grp), "fleet-embedded")
        const c = await connected("fleet-embedded", k, { clean: false, keepalive: 240, srRaw: "0ne00000A0A%2fregistrations%2ffleet-embedded" })
        assert.deepStrictEqual(await c.subscribe(undefined, 0), [0])
        const answers: DpsAnswer[] = [await c.register("1", { registrationId: "fleet-embedded" }, 0)]
        while (answers[answers.length - 1].status === 202) answers.push(await c.poll("1", answers[0].body.operationId, "", 0))
        assert.strictEqual(answers[answers.length - 1].body.status, "assigned")
        assert.ok(answers.every((a) => a.topic.includes("?$rid=1")))
        // Granted QoS 0, so the answers come at QoS 0.
        assert.ok(c.received.filter((p) => p.cmd === "publish").every((p) => (p as mqtt.IPublishPacket).qos === 0))
        c.close()
    })

    it("polls as often as pollsBeforeAssigned says (0 and 3)", async () => {
        const q = await provision(emu.mqttPort, emu.ca, { registrationId: "dev-quick", key: key(quick) })
        assert.deepStrictEqual(
            q.map((a) => a.status),
            [202, 200]
        )
        const s = await provision(emu.mqttPort, emu.ca, { registrationId: "dev-slow", key: key(slow) })
        assert.deepStrictEqual(
            s.map((a) => a.status),
            [202, 202, 202, 202, 200]
        )
        assert.ok(s.slice(0, 4).every((a) => a.topic.endsWith("&retry-after=1")))
    })

    it("throttles the first register with 429/429001 and retry-after, then accepts", async () => {
        const c = await connected("dev-throttled", key(throttled))
        await c.subscribe()
        const first = await c.register("a", { registrationId: "dev-throttled" })
        assert.strictEqual(first.topic, "$dps/registrations/res/429/?$rid=a&retry-after=2")
        assert.deepStrictEqual(Object.keys(first.body), ["errorCode", "trackingId", "message", "timestampUtc"])
        assert.strictEqual(first.body.errorCode, 429001)
        assert.match(first.body.trackingId, /^[0-9a-f-]{36}$/)
        assert.match(first.body.timestampUtc, ISO)
        const second = await c.register("b", { registrationId: "dev-throttled" })
        assert.strictEqual(second.status, 202)
        c.close()
    })

    it("answers injected server errors (500) with retry-after, then accepts", async () => {
        const c = await connected("dev-flaky", key(flaky))
        await c.subscribe()
        const statuses: number[] = []
        for (const rid of ["x", "y", "z"]) {
            const a = await c.register(rid, { registrationId: "dev-flaky" })
            statuses.push(a.status)
            if (a.status === 500) {
                assert.strictEqual(a.body.errorCode, 500000)
                assert.match(a.topic, /&retry-after=3$/)
            }
        }
        assert.deepStrictEqual(statuses, [500, 500, 202])
        c.close()
    })

    it("ends a failed allocation with a 200 `failed` carrying errorCode and errorMessage", async () => {
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "dev-doomed", key: key(doomed) })
        const last = answers[answers.length - 1]
        assert.strictEqual(last.status, 200)
        assert.strictEqual(last.body.status, "failed")
        const s = last.body.registrationState
        assert.deepStrictEqual(
            { registrationId: s.registrationId, status: s.status, errorCode: s.errorCode, errorMessage: s.errorMessage },
            { registrationId: "dev-doomed", status: "failed", errorCode: 400209, errorMessage: "No hub is linked" }
        )
        assert.match(s.lastUpdatedDateTimeUtc, ISO)
        assert.ok(emu.events.some((e) => e.name === "dps.failed" && e.data.registrationId === "dev-doomed"))
    })

    it("answers 400004 to a body naming another registration and 404 to an unknown operation", async () => {
        const c = await connected("dev-01", key(dev))
        await c.subscribe()
        const wrong = await c.register("r1", { registrationId: "dev-02" })
        assert.strictEqual(wrong.topic, "$dps/registrations/res/400/?$rid=r1")
        assert.strictEqual(wrong.body.errorCode, 400004)
        const lost = await c.poll("r2", "4.0000000000000000.00000000-0000-0000-0000-000000000000")
        assert.strictEqual(lost.status, 404)
        assert.strictEqual(Math.floor(lost.body.errorCode / 1000), 404)
        const bad = await c.register("r3", "{not json")
        assert.strictEqual(bad.status, 400)
        assert.ok(c.isOpen)
        c.close()
    })

    it("echoes a repeated $rid and a UUID $rid verbatim", async () => {
        const c = await connected("dev-01", key(dev))
        await c.subscribe()
        const a = await c.register("1", { registrationId: "dev-01" })
        const b = await c.register("1", { registrationId: "dev-01" })
        assert.ok(a.topic.includes("?$rid=1&") && b.topic.includes("?$rid=1&"))
        assert.notStrictEqual(a.body.operationId, b.body.operationId)
        c.close()
    })

    it("closes the connection on a publish to an unknown topic or at QoS 2", async () => {
        for (const p of [
            { cmd: "publish", topic: "devices/dev-01/messages/events/", payload: "x", qos: 1, messageId: 9, dup: false, retain: false },
            { cmd: "publish", topic: "$dps/registrations/PUT/iotdps-register/?$rid=1", payload: "{}", qos: 2, messageId: 9, dup: false, retain: false },
            { cmd: "publish", topic: "$dps/registrations/PUT/iotdps-register/", payload: "{}", qos: 0, dup: false, retain: false },
        ]) {
            const c = await connected("dev-01", key(dev))
            const closed = nextEvent(emu.emulator, "connection.error")
            c.send(p)
            await c.closed
            assert.ok((await closed).reason.length > 0)
        }
    })

    it("drops a client silent for 1.5 x its keepalive", async () => {
        const c = await connected("dev-01", key(dev), { keepalive: 1 })
        const err = nextEvent(emu.emulator, "connection.error")
        await c.closed
        assert.match((await err).reason, /keepalive/)
    })

    it("refuses MQTT 3.1 and 5 with CONNACK 1 (unacceptable protocol version)", async () => {
        for (const version of [
            { protocolId: "MQIsdp", protocolVersion: 3 },
            { protocolId: "MQTT", protocolVersion: 5 },
        ]) {
            const c = await RawClient.open(emu.mqttPort, emu.ca)
            assert.strictEqual(await c.connect({ ...dpsConnectPacket({ registrationId: "dev-01", key: key(dev) }), ...version } as mqtt.IConnectPacket), 1)
            await c.closed
        }
    })

    it("answers PINGREQ and reports bytes in and out when the client disconnects", async () => {
        const c = await connected("dev-01", key(dev))
        c.send({ cmd: "pingreq" })
        await c.next((p) => p.cmd === "pingresp")
        const closed = nextEvent(emu.emulator, "connection.close")
        c.send({ cmd: "disconnect" })
        const e = await closed
        assert.strictEqual(e.clientId, "dev-01")
        assert.match(e.reason, /disconnected/)
        assert.ok(e.bytesIn > 100 && e.bytesOut >= 6)
        // The wire carries the MQTT bytes plus the TLS handshake (certificate chain) and record overhead.
        assert.ok(e.wireBytesIn > e.bytesIn && e.wireBytesOut > e.bytesOut + 300)
    })

    describe("hostile bytes", () => {
        /** Sends the bytes; `clientEnds` for input the server may rightly wait on (a packet cut short). */
        async function send(bytes: Buffer, opts: { afterConnect?: boolean; clientEnds?: boolean } = {}): Promise<void> {
            const c = await RawClient.open(emu.mqttPort, emu.ca)
            if (opts.afterConnect) assert.strictEqual(await c.connect({ registrationId: "dev-01", key: key(dev) }), 0)
            c.write(bytes)
            if (opts.clientEnds) c.sock.end()
            await c.closed
        }

        async function closedWith(bytes: Buffer, afterConnect: boolean): Promise<string> {
            const err = nextEvent(emu.emulator, "connection.error")
            await send(bytes, { afterConnect })
            return (await err).reason
        }

        it("closes the connection, naming why, on garbage, a packet before CONNECT, oversized or malformed lengths", async () => {
            assert.match(await closedWith(Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" + "x".repeat(80)), false), /malformed/)
            assert.match(await closedWith(mqtt.generate({ cmd: "pingreq" }), false), /PINGREQ before CONNECT/)
            // Remaining length 300 000 > 256 KB: refused from the header alone.
            assert.match(await closedWith(Buffer.from([0x30, 0xe0, 0xa7, 0x12]), true), /exceeds/)
            assert.match(await closedWith(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), true), /malformed remaining length/)
            assert.match(await closedWith(mqtt.generate({ cmd: "connack", returnCode: 0, sessionPresent: false }), true), /unexpected CONNACK/)
        })

        it("survives a client that drops mid-packet", async () => {
            const connect = mqtt.generate(dpsConnectPacket({ registrationId: "dev-01", key: key(dev) }))
            await send(connect.subarray(0, connect.length - 7), { clientEnds: true })
            const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "dev-01", key: key(dev) })
            assert.strictEqual(answers[answers.length - 1].body.status, "assigned")
        })

        it("survives a few hundred random and mutated packets, then still provisions a good client", async () => {
            const valid = [
                mqtt.generate(dpsConnectPacket({ registrationId: "dev-01", key: key(dev) })),
                mqtt.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$dps/registrations/res/#", qos: 1 }] }),
                mqtt.generate({
                    cmd: "publish",
                    topic: "$dps/registrations/PUT/iotdps-register/?$rid=1",
                    payload: '{"registrationId":"dev-01"}',
                    qos: 1,
                    messageId: 2,
                    dup: false,
                    retain: false,
                }),
            ]
            const seed = fuzzSeed(1101)
            const fuzz = fuzzPackets(seed, 300, valid, 97)
            await withSeed(seed, async () => {
                for (let i = 0; i < fuzz.length; i += 30)
                    await Promise.all(fuzz.slice(i, i + 30).map((b, j) => send(b, { afterConnect: (i + j) % 3 === 0, clientEnds: true })))
                const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "dev-01", key: key(dev) })
                assert.strictEqual(answers[answers.length - 1].body.status, "assigned")
            })
        })
    })
})
