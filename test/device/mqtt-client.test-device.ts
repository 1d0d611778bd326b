// In-VM: the MQTT client against the scripted TLS peer of test/firmware/mqtt-client.test.ts.
// The peer picks its script from the client id.
import * as ds from "@devicescript/core"
import { readSetting } from "@devicescript/settings"
import { describe, expect, test } from "@devicescript/test"
import { MqttClient, MqttError } from "../../src/mqtt/client"
import { mqttPayloadLength } from "../../src/mqtt/packet"

async function client(clientId: string, keepAliveSec: number, maxPacketSize: number): Promise<MqttClient> {
    const host = await readSetting<string>("PEER_HOST")
    const port = await readSetting<number>("PEER_PORT")
    return new MqttClient({
        host,
        port,
        clientId,
        username: "user",
        password: "secret",
        keepAliveSec,
        cleanSession: true,
        maxPacketSize,
        ackTimeoutMs: 2500,
        connectTimeoutMs: 5000,
        inboxSize: 4,
        inboxBytes: 2 * maxPacketSize,
    })
}

async function errorOf(f: () => Promise<void>): Promise<MqttError> {
    try {
        await f()
    } catch (e) {
        return e as MqttError
    }
    return null
}

/** Publishes to `firstTopic` in another fiber and to `secondTopic` while it waits; only ack/ topics may complete. */
async function publishPair(c: MqttClient, firstTopic: string, secondTopic: string) {
    let firstError: MqttError = null
    let firstDone = false
    const first = async () => {
        firstError = await errorOf(async () => {
            await c.publish(firstTopic, Buffer.from("1"), 1)
        })
        firstDone = true
    }
    first.start()
    await ds.sleep(50)
    const secondError = await errorOf(async () => {
        await c.publish(secondTopic, Buffer.from("2"), 1)
    })
    for (let i = 0; i < 100 && !firstDone; i++) await ds.sleep(100)
    expect(firstDone).toBe(true)
    expect(firstError === null).toBe(firstTopic.indexOf("ack/") === 0)
    expect(secondError === null).toBe(secondTopic.indexOf("ack/") === 0)
}

describe("mqtt client", () => {
    test("packets split byte by byte and joined in one write", async () => {
        const c = await client("split", 0, 2048)
        await c.connect()
        expect((await c.subscribe(["t/#"], [1]))[0]).toBe(1)
        const a = await c.receive(8000)
        const b = await c.receive(8000)
        const d = await c.receive(8000)
        expect(a.topic).toBe("t/1")
        expect(a.body.slice(a.payloadStart).toString("utf-8")).toBe("one")
        expect(b.topic).toBe("t/2")
        expect(mqttPayloadLength(b)).toBe(1500)
        expect(d.topic).toBe("t/3")
        await c.publish("done", Buffer.from("split"), 1)
        await c.close()
    })
    test("oversized packet skipped, connection and framing kept", async () => {
        const c = await client("oversized", 0, 2048)
        await c.connect()
        const m = await c.receive(8000)
        expect(m.topic).toBe("after/big")
        expect(c.isConnected()).toBe(true)
        await c.publish("done", Buffer.from("oversized"), 1)
        await c.close()
    })
    test("dropped mid-packet, then reconnect starts clean", async () => {
        const c = await client("drop", 0, 2048)
        await c.connect()
        const e = await errorOf(async () => {
            await c.receive(8000)
        })
        expect(e !== null).toBe(true)
        expect(c.isConnected()).toBe(false)
        await c.connect()
        const m = await c.receive(8000)
        expect(m.topic).toBe("after/reconnect")
        expect(m.body.slice(m.payloadStart).toString("utf-8")).toBe("whole")
        await c.publish("done", Buffer.from("drop"), 1)
        await c.close()
    })
    test("refused CONNACK surfaces the return code", async () => {
        const c = await client("refused", 0, 2048)
        const e = await errorOf(async () => {
            await c.connect()
        })
        expect(e.code).toBe(5)
        expect(e.message.indexOf("not authorized") >= 0).toBe(true)
    })
    test("SUBACK failure is an error", async () => {
        const c = await client("subfail", 0, 2048)
        await c.connect()
        const e = await errorOf(async () => {
            await c.subscribe(["forbidden/#"], [1])
        })
        expect(e.code).toBe(0x80)
        await c.close()
    })
    test("PUBACK tracked per packet id, missing one times out", async () => {
        const c = await client("puback", 0, 2048)
        await c.connect()
        await c.publish("ack/me", Buffer.from("1"), 1)
        const e = await errorOf(async () => {
            await c.publish("ignore/me", Buffer.from("2"), 1)
        })
        expect(e.message.indexOf("PUBACK") >= 0).toBe(true)
        await c.close()
    })
    test("two publishes in flight: a PUBACK completes only its own, whichever comes first", async () => {
        const c = await client("twoinflight", 0, 2048)
        await c.connect()
        // The peer acknowledges topics under ack/ only. Both orders: a client that hands an ack to
        // whichever publish wakes first fails one of them, whatever order the VM wakes fibers in.
        await publishPair(c, "hold/1", "ack/2")
        await publishPair(c, "ack/3", "hold/4")
        await c.close()
    })
    test("acks for ids not in flight complete nothing, even a flood of them in one read", async () => {
        const c = await client("strayack", 0, 2048)
        await c.connect()
        const e = await errorOf(async () => {
            await c.publish("ack/wrong", Buffer.from("1"), 1)
        })
        expect(e.message.indexOf("no PUBACK") >= 0).toBe(true)
        // The stray ack named the next packet id: it must not complete the next publish, which gets no ack.
        const next = await errorOf(async () => {
            await c.publish("ack/never", Buffer.from("1"), 1)
        })
        expect(next !== null && next.message.indexOf("no PUBACK") >= 0).toBe(true)
        // 400 stray PUBACKs and 1000 PINGRESPs, then the right PUBACK, all in one write.
        await c.publish("ack/flood", Buffer.from("2"), 1)
        expect(c.isConnected()).toBe(true)
        await c.close()
    })
    test("keepalive: PINGREQ answered keeps the link, unanswered closes it", async () => {
        const ok = await client("pingok", 1, 2048)
        await ok.connect()
        await ds.sleep(3500)
        expect(ok.isConnected()).toBe(true)
        await ok.close()
        const dead = await client("pingdead", 1, 2048)
        await dead.connect()
        // PINGREQ after 1 s idle, then 2.5 s without PINGRESP; allow for a loaded machine.
        for (let i = 0; i < 100 && dead.isConnected(); i++) await ds.sleep(100)
        expect(dead.isConnected()).toBe(false)
        expect(dead.closeReason().indexOf("PINGRESP") >= 0).toBe(true)
    })
    test("connect/close cycles do not leak the heap", async () => {
        for (let i = 0; i < 40; i++) {
            const c = await client("cycle", 0, 8192)
            await c.connect()
            // Let the server's 6 KB message reach the inbox: each client dies holding it.
            await ds.sleep(20)
            await c.close()
        }
        const c = await client("cycle", 0, 8192)
        await c.connect()
        expect(c.isConnected()).toBe(true)
        await c.close()
    })
    test("close returns when the server keeps the connection after DISCONNECT", async () => {
        const c = await client("lingering", 0, 2048)
        await c.connect()
        await c.close()
        expect(c.isConnected()).toBe(false)
        expect(c.closeReason()).toBe("connection closed by client")
        const next = await client("cycle", 0, 8192)
        await next.connect()
        expect(next.isConnected()).toBe(true)
        await next.close()
    })
    test("a PUBACK rides with the next write, or goes alone when none comes", async () => {
        const c = await client("coalesce", 0, 2048)
        await c.connect()
        const m = await c.receive(8000)
        expect(m.topic).toBe("in/1")
        await c.publish("out/1", Buffer.from("x"), 0)
        const m2 = await c.receive(8000)
        expect(m2.topic).toBe("in/2")
        // No write of the application's for a while: the held PUBACK must go out by itself.
        await ds.sleep(300)
        await c.publish("done", Buffer.from("coalesce"), 1)
        await c.close()
    })
    test("subscriptions pipelined: all SUBSCRIBEs go out before any SUBACK is awaited", async () => {
        const c = await client("pipeline", 0, 2048)
        await c.connect()
        const granted = await c.subscribe(["a/#", "b/#", "c/#"], [1, 0, 1])
        expect(granted.length).toBe(3)
        expect(granted[0]).toBe(1)
        expect(granted[1]).toBe(0)
        expect(granted[2]).toBe(1)
        await c.publish("done", Buffer.from("pipeline"), 1)
        await c.close()
    })
})
