// The IoT Edge face with raw MQTT clients over TLS trusting the edge root: who a gateway admits,
// everything a leaf does with its hub through it, and store and forward across an uplink outage.
import * as assert from "assert"
import { fuzzPackets, fuzzSeed, withSeed } from "./fuzz-packets"
import mqtt = require("mqtt-packet")
import { HubServiceError, validateConfig } from "../../sim/emulator"
import { ServiceClient } from "../../sim/emulator/service/service-client"
import { ID_SCOPE, nextEvent, randomKey } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { EDGE, HUB, RunningEdge, startEdgeEmulator } from "./edge-fixtures"
import { serviceCliFor } from "./service-cli-runner"
import { HubConnectOptions, HubDevice, hubConnect, hubConnectPacket, hubDevice, nextPublish, publish } from "./hub-fixtures"

const child = (id: string) => ({ ...hubDevice(id), parent: EDGE })

describe("IoT Edge face", () => {
    let emu: RunningEdge
    const leaf = child("leaf-01")
    const quiet = child("leaf-02")
    const orphan = hubDevice("not-a-child")
    const svc = () => emu.emulator.service
    const opts = (d: HubDevice, extra: Partial<HubConnectOptions> = {}): HubConnectOptions => ({ deviceId: d.deviceId, key: d.primaryKey, host: HUB, ...extra })

    before(async () => {
        emu = await startEdgeEmulator([leaf, quiet, orphan])
    })
    after(() => emu.emulator.stop())

    async function throughEdge(d: HubDevice, extra: Partial<HubConnectOptions> = {}): Promise<RawClient> {
        const r = await hubConnect(emu.edgePort, emu.edgeCa, opts(d, extra))
        assert.strictEqual(r.code, 0)
        return r.client
    }

    async function refused(d: HubDevice, extra: Partial<HubConnectOptions> = {}): Promise<string> {
        const ev = nextEvent(emu.emulator, "edge.refused")
        const r = await hubConnect(emu.edgePort, emu.edgeCa, opts(d, extra))
        assert.strictEqual(r.code, 5)
        await r.client.closed
        return (await ev).reason
    }

    async function sendTelemetry(c: RawClient, deviceId: string, body: string): Promise<void> {
        const id = publish(c, `devices/${deviceId}/messages/events/n=${encodeURIComponent(body)}`, body)
        await c.next((p) => p.cmd === "puback" && p.messageId === id)
    }

    describe("admission", () => {
        it("admits a child of the edge device; its telemetry reaches the hub marked as via the edge", async () => {
            const connected = nextEvent(emu.emulator, "hub.connect")
            const c = await throughEdge(leaf)
            assert.deepStrictEqual([(await connected).via, (await connected).hub], [EDGE, HUB])
            assert.strictEqual(svc().getDevice("leaf-01").connectionState, "Connected")
            const ev = nextEvent(emu.emulator, "hub.telemetry")
            await sendTelemetry(c, "leaf-01", "hello via edge")
            const m = await ev
            assert.deepStrictEqual([m.deviceId, m.via, m.body.toString(), m.properties], ["leaf-01", EDGE, "hello via edge", { n: "hello via edge" }])
            assert.strictEqual(svc().telemetry("leaf-01").slice(-1)[0].sequenceNumber, m.sequenceNumber)
            c.close()
        })

        it("accepts the gateway host name as SAS audience, with the hub's in the user name", async () => {
            const c = await throughEdge(leaf, { srRaw: encodeURIComponent("localhost/devices/leaf-01") })
            c.close()
            assert.match(await refused(leaf, { srRaw: encodeURIComponent("elsewhere/devices/leaf-01") }), /does not name/)
        })

        it("refuses a device that is not its child, and admits it once the service sets the parent", async () => {
            assert.match(await refused(orphan), /not-a-child is not a child of edge device edge-gw-01/)
            // The same device is welcome at the hub itself.
            const direct = await hubConnect(emu.mqttPort, emu.ca, opts(orphan))
            assert.strictEqual(direct.code, 0)
            assert.strictEqual(svc().setParent("not-a-child", EDGE).parent, EDGE)
            const c = await throughEdge(orphan)
            await direct.client.closed
            c.close()
            assert.throws(
                () => svc().setParent("leaf-01", "leaf-02"),
                (e: HubServiceError) => e.errorCode === 400004
            )
        })

        it("refuses bad credentials and unknown devices", async () => {
            assert.match(await refused(leaf, { key: randomKey() }), /signature/)
            assert.match(await refused(hubDevice("nobody")), /not registered/)
        })

        it("fails the TLS handshake of a client that trusts only the emulator's root", async () => {
            await assert.rejects(RawClient.open(emu.edgePort, emu.ca), /certificate/)
            await assert.rejects(RawClient.open(emu.mqttPort, emu.edgeCa), /certificate/)
        })
    })

    describe("the hub's features through the gateway", () => {
        it("twin GET, reported PATCH and desired pushes", async () => {
            const c = await throughEdge(leaf, { clean: true })
            await c.subscribe("$iothub/twin/res/#", 0)
            await c.subscribe("$iothub/twin/PATCH/properties/desired/#", 1)
            publish(c, "$iothub/twin/PATCH/properties/reported/?$rid=1", '{"fw":"2.0"}', 0)
            assert.strictEqual((await nextPublish(c, "$iothub/twin/res/")).topic, "$iothub/twin/res/204/?$rid=1&$version=2")
            assert.deepStrictEqual(svc().getTwin("leaf-01").properties.reported, { fw: "2.0", $version: 2 })
            assert.strictEqual(svc().updateDesired("leaf-01", { rate: 3 }).delivered, true)
            const push = await nextPublish(c, "$iothub/twin/PATCH/properties/desired/")
            assert.deepStrictEqual(JSON.parse(push.payload.toString()), { rate: 3, $version: 2 })
            publish(c, "$iothub/twin/GET/?$rid=2", "", 0)
            const got = await nextPublish(c, "$iothub/twin/res/200/")
            assert.deepStrictEqual(JSON.parse(got.payload.toString()).desired, { rate: 3, $version: 2 })
            c.close()
        })

        it("direct methods and C2D", async () => {
            const c = await throughEdge(leaf, { clean: true })
            await c.subscribe("$iothub/methods/POST/#", 0)
            await c.subscribe("devices/leaf-01/messages/devicebound/#", 1)
            const call = svc().invokeMethod("leaf-01", "ping", { n: 1 }, 5)
            const req = await nextPublish(c, "$iothub/methods/POST/ping/")
            publish(c, req.topic.replace("POST/ping", "res/200"), '{"pong":1}', 0)
            assert.deepStrictEqual(await call, { status: 200, payload: { pong: 1 } })
            const done = nextEvent(emu.emulator, "hub.c2d.completed")
            svc().sendC2d("leaf-01", "down the chain", { messageId: "c-1" })
            assert.strictEqual((await nextPublish(c, "devices/leaf-01/messages/devicebound/")).payload.toString(), "down the chain")
            assert.strictEqual((await done).messageId, "c-1")
            c.close()
        })
    })

    describe("store and forward", () => {
        it("stores telemetry during an outage and delivers it in order, exactly once, when the uplink returns", async () => {
            const c = await throughEdge(quiet, { clean: true })
            await c.subscribe("$iothub/twin/res/#", 0)
            await c.subscribe("$iothub/methods/POST/#", 0)
            await c.subscribe("devices/leaf-02/messages/devicebound/#", 1)
            const before = svc().telemetry("leaf-02").length
            svc().setEdgeUplink(EDGE, false)
            const sent = Array.from({ length: 25 }, (_, i) => `outage-${i}`)
            for (const body of sent) await sendTelemetry(c, "leaf-02", body)
            assert.strictEqual(svc().telemetry("leaf-02").length, before)
            // Offline to the hub: methods 404103, twin requests 503, C2D waits.
            assert.strictEqual(svc().getDevice("leaf-02").connectionState, "Disconnected")
            await assert.rejects(svc().invokeMethod("leaf-02", "ping"), (e: HubServiceError) => e.errorCode === 404103)
            publish(c, "$iothub/twin/GET/?$rid=9", "", 0)
            const twin = await nextPublish(c, "$iothub/twin/res/")
            assert.strictEqual(twin.topic, "$iothub/twin/res/503/?$rid=9")
            assert.strictEqual(JSON.parse(twin.payload.toString()).errorCode, 503000)
            svc().sendC2d("leaf-02", "after the outage")
            const c2d = nextPublish(c, "devices/leaf-02/messages/devicebound/")
            const delivered: string[] = []
            const stop = svc().monitorEvents((m) => delivered.push(m.body.toString()), "leaf-02")
            svc().setEdgeUplink(EDGE, true)
            stop()
            assert.deepStrictEqual(delivered, sent)
            const stored = svc().telemetry("leaf-02").slice(before)
            assert.deepStrictEqual(
                stored.map((m) => m.body.toString()),
                sent
            )
            assert.ok(stored.every((m, i) => m.via === EDGE && (i === 0 || m.sequenceNumber > stored[i - 1].sequenceNumber)))
            assert.strictEqual((await c2d).payload.toString(), "after the outage")
            // Up again: straight through, nothing replayed.
            await sendTelemetry(c, "leaf-02", "live")
            assert.deepStrictEqual(
                svc()
                    .telemetry("leaf-02")
                    .slice(before)
                    .map((m) => m.body.toString()),
                [...sent, "live"]
            )
            c.close()
        })

        it("switches the uplink from the service endpoint", async () => {
            const client = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: HUB, serviceKey: emu.serviceKey })
            assert.deepStrictEqual(await client.setEdgeUplink(EDGE, false), { edgeId: EDGE, up: false })
            assert.deepStrictEqual(await client.setEdgeUplink(EDGE, true), { edgeId: EDGE, up: true })
            await assert.rejects(client.setEdgeUplink("no-such-edge", true), /404001/)
        })

        it("service-cli switches the uplink and sets a parent", async () => {
            const run = await serviceCliFor(emu, HUB)
            const cli = async (...args: string[]) => JSON.parse((await run(...args)).stdout)
            assert.deepStrictEqual(await cli("edge", "uplink", "-d", EDGE, "--up", "false"), { edgeId: EDGE, up: false })
            assert.strictEqual(emu.emulator.edges.get(EDGE)!.uplinkUp, false)
            svc().setEdgeUplink(EDGE, true)
            assert.strictEqual((await cli("device", "set-parent", "-d", "leaf-02", "--parent", EDGE)).parent, EDGE)
        })
    })

    it("survives random and mutated packets, then still serves a child", async () => {
        const valid = [
            mqtt.generate(hubConnectPacket(opts(leaf))),
            mqtt.generate({ cmd: "publish", topic: "devices/leaf-01/messages/events/", payload: "{}", qos: 1, messageId: 2, dup: false, retain: false }),
        ]
        const seed = fuzzSeed(1103)
        const fuzz = fuzzPackets(seed, 60, valid, 61)
        await withSeed(seed, async () => {
            await Promise.all(
                fuzz.map(async (bytes, i) => {
                    const c = await RawClient.open(emu.edgePort, emu.edgeCa)
                    if (i % 3 === 0) c.send(hubConnectPacket(opts(quiet)))
                    c.write(bytes)
                    c.sock.end()
                    await c.closed
                })
            )
            const c = await throughEdge(leaf)
            await sendTelemetry(c, "leaf-01", "still here")
            c.close()
        })
    })
})

describe("IoT Edge store and forward: message TTL", () => {
    it("drops messages older than edge.messageTtlSec, with an event, and delivers the rest", async () => {
        const leaf = child("leaf-ttl")
        const emu = await startEdgeEmulator([leaf], { messageTtlSec: 1 })
        try {
            const dropped: string[] = []
            emu.emulator.on("edge.dropped", (e) => dropped.push(e.reason))
            const r = await hubConnect(emu.edgePort, emu.edgeCa, { deviceId: "leaf-ttl", key: leaf.primaryKey, host: HUB })
            assert.strictEqual(r.code, 0)
            const send = async (body: string) => {
                const id = publish(r.client, "devices/leaf-ttl/messages/events/", body)
                await r.client.next((p) => p.cmd === "puback" && p.messageId === id)
            }
            emu.emulator.service.setEdgeUplink(EDGE, false)
            await send("old-1")
            await send("old-2")
            await new Promise((done) => setTimeout(done, 1100))
            await send("fresh")
            emu.emulator.service.setEdgeUplink(EDGE, true)
            assert.deepStrictEqual(
                emu.emulator.service.telemetry("leaf-ttl").map((m) => m.body.toString()),
                ["fresh"]
            )
            assert.strictEqual(dropped.length, 2)
            assert.match(dropped[0], /TTL \(1 s\)/)
            r.client.close()
        } finally {
            await emu.emulator.stop()
        }
    })

    it("keeps at most edge.maxStoredMessages, dropping the oldest", async () => {
        const leaf = child("leaf-full")
        const emu = await startEdgeEmulator([leaf], { maxStoredMessages: 3 })
        try {
            const r = await hubConnect(emu.edgePort, emu.edgeCa, { deviceId: "leaf-full", key: leaf.primaryKey, host: HUB })
            emu.emulator.service.setEdgeUplink(EDGE, false)
            const dropped = nextEvent(emu.emulator, "edge.dropped")
            for (const body of ["a", "b", "c", "d", "e"]) {
                const id = publish(r.client, "devices/leaf-full/messages/events/", body)
                await r.client.next((p) => p.cmd === "puback" && p.messageId === id)
            }
            assert.match((await dropped).reason, /store is full/)
            emu.emulator.service.setEdgeUplink(EDGE, true)
            assert.deepStrictEqual(
                emu.emulator.service.telemetry("leaf-full").map((m) => m.body.toString()),
                ["c", "d", "e"]
            )
            r.client.close()
        } finally {
            await emu.emulator.stop()
        }
    })
})

describe("IoT Edge configuration", () => {
    it("names an edge without an identity, a parent that is not an edge and a bad TTL", () => {
        assert.throws(
            () =>
                validateConfig({
                    tls: { cert: "c.pem", key: "k.pem" },
                    dps: { idScope: ID_SCOPE },
                    hubs: [{ hostName: HUB }],
                    devices: [{ deviceId: "leaf", parent: "leaf-too" }, { deviceId: "leaf-too" }],
                    edges: [{ deviceId: "ghost", tls: { cert: "e.pem", key: "e.key" } }],
                    edge: { messageTtlSec: 0 },
                }),
            (e: Error) =>
                /edges\[0\]\.deviceId: must name one of devices/.test(e.message) &&
                /devices\[0\]\.parent: must name one of edges/.test(e.message) &&
                /edge\.messageTtlSec/.test(e.message)
        )
    })
})
