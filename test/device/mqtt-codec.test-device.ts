// In-VM: MQTT framing however the stream is cut, limits, and topic matching.
import * as ds from "@devicescript/core"
import { describe, expect, test } from "@devicescript/test"
import { yieldBetweenTests } from "./vm-yield"
import { MqttFrameReader, MqttSkipped } from "../../src/mqtt/frame-reader"
import {
    MqttFrame,
    mqttEncodeConnect,
    mqttEncodePublish,
    mqttEncodeRemainingLength,
    mqttEncodeSubscribe,
    mqttParsePacketId,
    mqttParsePublish,
    mqttPayloadLength,
} from "../../src/mqtt/packet"
import { mqttTopicMatches } from "../../src/mqtt/topic"
import { KEEPALIVE_DEAD, KEEPALIVE_PING, KEEPALIVE_WAIT, mqttKeepaliveAction, mqttNextPacketId } from "../../src/mqtt/client"
import { Wake } from "../../src/wake"

function publish(topic: string, size: number): Buffer {
    const p = Buffer.alloc(size)
    for (let i = 0; i < size; i++) p[i] = i & 255
    return mqttEncodePublish(topic, p, 1, 7)
}

/** Room for any PUBLISH: the receiver's inbox is empty. */
const ROOM = 100000

function frames(r: MqttFrameReader): (MqttFrame | MqttSkipped)[] {
    const out: (MqttFrame | MqttSkipped)[] = []
    for (;;) {
        const f = r.next(ROOM)
        if (f === null) return out
        out.push(f)
    }
}

describe("packet ids and keepalive", () => {
    yieldBetweenTests()
    test("packet ids run 1..65535 and wrap to 1, never 0", () => {
        expect(mqttNextPacketId(0)).toBe(1)
        expect(mqttNextPacketId(1)).toBe(2)
        expect(mqttNextPacketId(65534)).toBe(65535)
        expect(mqttNextPacketId(65535)).toBe(1)
    })
    test("PINGREQ once a whole period passed without sending, not before", () => {
        // Sent at 10 s, keepalive 60 s, acks within 5 s.
        expect(mqttKeepaliveAction(10000, 10000, 0, 60000, 5000)).toBe(KEEPALIVE_WAIT)
        expect(mqttKeepaliveAction(69999, 10000, 0, 60000, 5000)).toBe(KEEPALIVE_WAIT)
        expect(mqttKeepaliveAction(70000, 10000, 0, 60000, 5000)).toBe(KEEPALIVE_PING)
        expect(mqttKeepaliveAction(80000, 10000, 0, 60000, 5000)).toBe(KEEPALIVE_PING)
    })
    test("a PINGREQ outstanding: wait for its answer up to the ack timeout, then the link is dead", () => {
        expect(mqttKeepaliveAction(70000, 70000, 70000, 60000, 5000)).toBe(KEEPALIVE_WAIT)
        expect(mqttKeepaliveAction(75000, 70000, 70000, 60000, 5000)).toBe(KEEPALIVE_WAIT)
        expect(mqttKeepaliveAction(75001, 70000, 70000, 60000, 5000)).toBe(KEEPALIVE_DEAD)
        // Another period of silence does not mean another PINGREQ while one is unanswered.
        expect(mqttKeepaliveAction(131000, 70000, 130000, 60000, 5000)).toBe(KEEPALIVE_WAIT)
    })
})

describe("remaining length", () => {
    yieldBetweenTests()
    test("1 to 4 bytes at the boundaries", () => {
        expect(mqttEncodeRemainingLength(127).length).toBe(1)
        expect(mqttEncodeRemainingLength(128).length).toBe(2)
        expect(mqttEncodeRemainingLength(16383).length).toBe(2)
        expect(mqttEncodeRemainingLength(16384).length).toBe(3)
        expect(mqttEncodeRemainingLength(2097152).length).toBe(4)
        expect(mqttEncodeRemainingLength(268435455).toString("hex")).toBe("ffffff7f")
        expect(() => mqttEncodeRemainingLength(268435456)).toThrow()
    })
    test("a 5-byte length is a protocol error", () => {
        const r = new MqttFrameReader(1000)
        r.push(Buffer.from("30ffffffff01", "hex"))
        expect(() => r.next(ROOM)).toThrow()
    })
})

describe("encoding", () => {
    yieldBetweenTests()
    test("CONNECT with credentials and keepalive", () => {
        const b = mqttEncodeConnect({ clientId: "d", username: "u", password: "p", keepAliveSec: 300, cleanSession: true })
        expect(b.toString("hex")).toBe("101300044d51545404c2012c000164000175000170")
    })
    test("SUBSCRIBE", () => {
        expect(mqttEncodeSubscribe(10, "a/#", 1).toString("hex")).toBe("820800" + "0a0003612f2301")
    })
})

describe("frame reader", () => {
    yieldBetweenTests()
    test("byte by byte", () => {
        const pkt = publish("a/b", 300)
        const r = new MqttFrameReader(1000)
        let got = 0
        for (let i = 0; i < pkt.length; i++) {
            r.push(pkt.slice(i, i + 1))
            const f = r.next(ROOM)
            if (f !== null) {
                got++
                const m = mqttParsePublish(f as MqttFrame)
                expect(m.topic).toBe("a/b")
                expect(mqttPayloadLength(m)).toBe(300)
                expect(m.packetId).toBe(7)
                expect(i).toBe(pkt.length - 1)
            }
        }
        expect(got).toBe(1)
    })
    test("several packets joined in one chunk, then a split one", () => {
        const a = publish("x", 3)
        const b = publish("y", 200)
        const r = new MqttFrameReader(1000)
        r.push(a.concat(b).concat(a.slice(0, 4)))
        const fs = frames(r)
        expect(fs.length).toBe(2)
        expect(mqttParsePublish(fs[1] as MqttFrame).topic).toBe("y")
        r.push(a.slice(4))
        const rest = frames(r)
        expect(rest.length).toBe(1)
        expect(mqttPayloadLength(mqttParsePublish(rest[0] as MqttFrame))).toBe(3)
    })
    test("oversized packet skipped across chunks, framing kept", () => {
        const big = publish("big", 3000)
        const small = publish("ok", 5)
        const r = new MqttFrameReader(1024)
        const all = small.concat(big).concat(small)
        const got: (MqttFrame | MqttSkipped)[] = []
        for (let off = 0; off < all.length; off += 700) {
            // Buffer.slice in DeviceScript zero-pads past the end: clamp.
            r.push(all.slice(off, Math.min(all.length, off + 700)))
            const fs = frames(r)
            for (const f of fs) got.push(f)
        }
        expect(got.length).toBe(3)
        expect((got[1] as MqttSkipped).skipped).toBe(big.length)
        expect((got[1] as MqttSkipped).oversized).toBe(true)
        expect(mqttParsePublish(got[2] as MqttFrame).topic).toBe("ok")
        expect(r.droppedBytes > 2999).toBe(true)
    })
    test("the size limit counts the fixed header: limit-sized passes, one byte more is skipped", () => {
        // A PUBLISH of 100 bytes in all: 2 header bytes + 98 (topic length 2, "t" 1, id 2, payload 93).
        const exact = mqttEncodePublish("t", Buffer.alloc(93), 1, 1)
        const over = mqttEncodePublish("t", Buffer.alloc(94), 1, 2)
        expect(exact.length).toBe(100)
        const r = new MqttFrameReader(100)
        r.push(exact.concat(over).concat(exact))
        const got = frames(r)
        expect(got.length).toBe(3)
        expect(mqttPayloadLength(mqttParsePublish(got[0] as MqttFrame))).toBe(93)
        expect((got[1] as MqttSkipped).skipped).toBe(101)
        expect(mqttParsePublish(got[2] as MqttFrame).packetId).toBe(1)
    })
    test("a PUBLISH over the room left is skipped at its header; other packets and smaller PUBLISHes are not", () => {
        // Bodies: 2 + 3 + 2 + 300 = 307 bytes, and 2 + 1 + 2 + 5 = 10.
        const big = publish("big", 300)
        const small = publish("s", 5)
        const r = new MqttFrameReader(1000)
        r.push(big.concat(Buffer.from("40020001", "hex")).concat(small).concat(big))
        const skipped = r.next(306) as MqttSkipped
        expect(skipped.skipped).toBe(big.length)
        expect(skipped.oversized).toBe(false)
        expect(mqttParsePacketId(r.next(0) as MqttFrame)).toBe(1)
        expect(mqttParsePublish(r.next(10) as MqttFrame).topic).toBe("s")
        expect(mqttPayloadLength(mqttParsePublish(r.next(307) as MqttFrame))).toBe(300)
        expect(r.next(0)).toBe(null)
    })
    test("a packet other than PUBLISH is skipped as oversized past 64 bytes, whatever the limit", () => {
        const ack = (id: number, len: number) => {
            const b = Buffer.alloc(2 + len)
            b[0] = 0x40
            b[1] = len
            b[3] = id
            return b
        }
        const r = new MqttFrameReader(1000)
        r.push(ack(1, 62).concat(ack(2, 63)).concat(ack(3, 2)))
        expect(mqttParsePacketId(r.next(ROOM) as MqttFrame)).toBe(1)
        const skipped = r.next(ROOM) as MqttSkipped
        expect(skipped.skipped).toBe(65)
        expect(skipped.oversized).toBe(true)
        expect(mqttParsePacketId(r.next(ROOM) as MqttFrame)).toBe(3)
    })
    test("thousands of tiny packets in one chunk come out one by one, in order", async () => {
        const n = 2000
        const chunk = Buffer.alloc(n * 4)
        for (let i = 0; i < n; i++) {
            chunk[i * 4] = 0x40
            chunk[i * 4 + 1] = 2
            chunk[i * 4 + 2] = (i >> 8) & 255
            chunk[i * 4 + 3] = i & 255
        }
        const r = new MqttFrameReader(100)
        r.push(chunk)
        for (let i = 0; i < 20; i++) {
            const f = r.next(ROOM) as MqttFrame
            expect(mqttParsePacketId(f)).toBe(i)
        }
        // The rest stays readable after more bytes arrive.
        r.push(Buffer.from("d000", "hex"))
        let last = -1
        let count = 20
        for (;;) {
            const f = r.next(ROOM) as MqttFrame
            if (f === null) break
            if (f.header === 0xd0) break
            last = mqttParsePacketId(f)
            count++
            if (count % 100 === 0) await ds.sleep(0)
        }
        expect(count).toBe(n)
        expect(last).toBe(n - 1)
    })
    test("malformed PUBLISH is an error, not a crash", () => {
        const r = new MqttFrameReader(100)
        r.push(Buffer.from("3205ffff616263", "hex"))
        const f = r.next(ROOM) as MqttFrame
        expect(() => mqttParsePublish(f)).toThrow()
    })
})

describe("topic matching", () => {
    yieldBetweenTests()
    test("+ and #", () => {
        expect(mqttTopicMatches("$dps/registrations/res/#", "$dps/registrations/res/202/?$rid=1")).toBe(true)
        expect(mqttTopicMatches("devices/+/messages/devicebound/#", "devices/d1/messages/devicebound/a=b")).toBe(true)
        expect(mqttTopicMatches("devices/+/messages/devicebound/#", "devices/d1/messages/events/")).toBe(false)
        expect(mqttTopicMatches("a/+", "a/b/c")).toBe(false)
        expect(mqttTopicMatches("a/#", "a")).toBe(true)
        expect(mqttTopicMatches("a/b", "a/b")).toBe(true)
        expect(mqttTopicMatches("a/b", "a/c")).toBe(false)
    })
})

describe("wake", () => {
    yieldBetweenTests()
    test("notifications racing waiters' timeouts never resume a finished fiber", async () => {
        const w = new Wake()
        let finished = 0
        const startWaiter = (timeoutMs: number) => {
            const waiter = async () => {
                await w.wait(timeoutMs)
                finished++
            }
            waiter.start()
        }
        for (let round = 0; round < 20; round++) {
            for (let i = 0; i < 10; i++) startWaiter(1 + i)
            for (let k = 0; k < 6; k++) {
                w.notify()
                w.notify()
                await ds.sleep(k)
            }
        }
        await ds.sleep(50)
        expect(finished).toBe(200)
    })
    test("a waiter returns on notify, long before its timeout", async () => {
        const w = new Wake()
        const t0 = ds.millis()
        const notifier = async () => {
            await ds.sleep(20)
            w.notify()
        }
        notifier.start()
        await w.wait(5000)
        expect(ds.millis() - t0 < 1000).toBe(true)
    })
})
