// The firmware against a hostile or failing cloud: each case attacks one step, and the device must neither
// panic nor give up; it logs what happened and comes back once the peer behaves. The cases run side by side
// (each its own VM and peer) to keep the suite short.
import * as assert from "assert"
import mqtt = require("mqtt-packet")
import { CloudPeer, Connection, Script, Step, dpsResponseTopic, gen, pubackIfQos1, ridOf, serverPublish } from "./cloud-peer"
import { until } from "../../sim/wait"
import { Case, defineCases, sleep } from "./hostile-device"

/** Arrays, two bytes a level: 1000 levels still fit in one hub packet (8 KB). */
function nested(depth: number): unknown {
    let v: unknown = 1
    for (let i = 0; i < depth; i++) v = [v]
    return v
}

type StepName = keyof CloudPeer["defaults"]

/** A script whose `step` answers its first `n` calls with `bad`, then behaves. */
function firstN(step: StepName, n: number, bad: Step): Script {
    let calls = 0
    return { [step]: (c: Connection, pkt: mqtt.Packet, peer: CloudPeer) => (calls++ < n ? bad : peer.defaults[step])(c, pkt, peer) }
}

const publishOf = (pkt: mqtt.Packet) => pkt as mqtt.IPublishPacket

const CASES: Case[] = [
    {
        name: "a burst of 400 PUBACKs and 1000 PINGRESPs in one read",
        script: {
            telemetry(c, pkt) {
                const burst: Buffer[] = []
                for (let i = 0; i < 400; i++) burst.push(gen({ cmd: "puback", messageId: 60000 + i }))
                for (let i = 0; i < 1000; i++) burst.push(gen({ cmd: "pingresp" }))
                burst.push(gen({ cmd: "puback", messageId: publishOf(pkt).messageId }))
                c.write(Buffer.concat(burst))
            },
        },
        async run(_peer, d) {
            await d.line(/^hub: telemetry #3 acknowledged/)
        },
    },
    {
        name: "a desired document nested 1000 deep, in the twin and in an update, also after a reboot",
        script: {
            twinGet(c, pkt) {
                const twin = { desired: { $version: 5, deep: nested(1000) }, reported: { $version: 1 } }
                serverPublish(c, "twin-response", `$iothub/twin/res/200/?$rid=${ridOf(publishOf(pkt))}`, JSON.stringify(twin))
            },
            sessionReady(c) {
                serverPublish(c, "desired", "$iothub/twin/PATCH/properties/desired/?$version=6", JSON.stringify({ $version: 6, deep: nested(1000) }))
            },
        },
        async run(_peer, d) {
            await d.line(/^hub: twin document refused: .*nest/)
            await d.line(/^hub: desired update refused: .*nest/)
            await d.line(/^hub: telemetry #2 acknowledged/)
            await d.device.reboot()
            await d.line(/^hub: twin document refused: .*nest/)
            await d.line(/^hub: telemetry #\d+ acknowledged/)
        },
    },
    {
        name: "a method name of 2000 characters",
        script: {
            sessionReady(c) {
                serverPublish(c, "method", `$iothub/methods/POST/${"m".repeat(2000)}/?$rid=7`, "{}")
                serverPublish(c, "method", "$iothub/methods/POST/getDeviceState/?$rid=8", "{}")
            },
        },
        async run(peer, d) {
            const answer = (rid: string) =>
                peer
                    .of("hub")
                    .flatMap((c) => c.received)
                    .find((p) => p.cmd === "publish" && publishOf(p).topic.startsWith("$iothub/methods/res/") && publishOf(p).topic.endsWith(`?$rid=${rid}`))
            const long = publishOf(await until("the long-named method's answer", () => answer("7"), 20000))
            assert.match(long.topic, /^\$iothub\/methods\/res\/(400|404)\//)
            assert.ok(long.payload.length < 200, "the answer echoes the whole name")
            await until("getDeviceState's answer", () => answer("8"), 5000)
            await d.line(/^hub: telemetry #2 acknowledged/)
        },
    },
    {
        name: "DPS restarts while the registration is assigning",
        script: firstN("dpsPoll", 1, (c) => c.sock.destroy()),
        async run(_peer, d) {
            await d.line(/^dps: assigned to localhost/)
            await d.line(/^hub: telemetry #1 acknowledged/)
        },
    },
    {
        name: "no network for the first 12 s of boot (time and DPS unreachable)",
        async run(peer, d) {
            peer.up = false
            const up = Date.now() + 12000
            await sleep(12000)
            assert.strictEqual(d.count(/^clock: \d+ s since epoch/), 0)
            assert.ok(d.count(/^clock: .*retrying in/) >= 2, "the clock sync was not retried")
            peer.up = true
            await d.line(/^dps: assigned to localhost/, 45000)
            await d.line(/^hub: telemetry #1 acknowledged/)
            assert.ok(Date.now() - up < 40000)
        },
    },
    {
        name: "six failed DPS connects in a row",
        script: firstN("connect", 6, (c) => c.sock.destroy()),
        async run(peer, d) {
            await d.line(/^dps: assigned to localhost/, 90000)
            assert.ok(peer.of("dps").length >= 7)
        },
    },
    {
        name: "a retry-after of 10^9 seconds",
        settings: { DPS_TIMEOUT: 5 },
        script: {
            dpsRegister(c, pkt) {
                pubackIfQos1(c, publishOf(pkt))
                serverPublish(
                    c,
                    "dps-response",
                    dpsResponseTopic(202, ridOf(publishOf(pkt)), 1e9),
                    JSON.stringify({ operationId: "op-1", status: "assigning" })
                )
            },
        },
        async run(_peer, d) {
            const m = await d.line(/^dps: .*(polling again|retrying) in ([\d.]+) (min|s|ms)$/)
            const sec = Number(m[2]) * (m[3] === "min" ? 60 : m[3] === "s" ? 1 : 0.001)
            assert.ok(sec <= 300, m[0])
            await sleep(2000)
        },
    },
    {
        name: "429 with retry-after until past DPS_TIMEOUT, then assigned",
        settings: { DPS_TIMEOUT: 3 },
        script: firstN("dpsRegister", 3, (c, pkt) => {
            pubackIfQos1(c, publishOf(pkt))
            serverPublish(c, "dps-response", dpsResponseTopic(429, ridOf(publishOf(pkt)), 2), JSON.stringify({ errorCode: 429001, message: "throttled" }))
        }),
        async run(_peer, d) {
            await d.line(/^dps: assigned to localhost/, 60000)
        },
    },
    {
        name: "a 200 with a malformed body, then a good answer",
        script: firstN("dpsPoll", 1, (c, pkt) => {
            pubackIfQos1(c, publishOf(pkt))
            serverPublish(c, "dps-response", dpsResponseTopic(200, ridOf(publishOf(pkt))), '{"status":"assigned"')
        }),
        async run(_peer, d) {
            await d.line(/^dps: .*malformed/)
            await d.line(/^dps: assigned to localhost/, 45000)
        },
    },
    {
        name: "DPS answers carrying another request's $rid are ignored",
        script: firstN("dpsPoll", 1, (c, pkt, peer) => {
            const rid = ridOf(publishOf(pkt))
            // The register's rid (stale) and one this rid is a prefix of, each claiming another identity, then the answer.
            const wrong = (deviceId: string) =>
                JSON.stringify({ operationId: "op-1", status: "assigned", registrationState: { status: "assigned", assignedHub: "localhost", deviceId } })
            serverPublish(c, "dps-response", dpsResponseTopic(200, String(Number(rid) - 1)), wrong("stale-device"))
            serverPublish(c, "dps-response", dpsResponseTopic(200, rid + "0"), wrong("other-device"))
            peer.defaults.dpsPoll(c, pkt, peer)
        }),
        async run(_peer, d) {
            const m = await d.line(/^dps: assigned to (\S+) as (\S+)/)
            assert.doesNotMatch(m[2], /stale-device|other-device/)
        },
    },
    {
        name: "a telemetry message whose PUBACK never came is sent again after the reconnect",
        settings: { INTERVAL: 2 },
        // The hub drops the link on the first telemetry message, before acknowledging it.
        script: firstN("telemetry", 1, (c) => c.sock.destroy()),
        async run(peer, d) {
            await d.line(/^hub: telemetry #2 acknowledged/, 45000)
            const firstSent = peer.telemetry.filter((t) => t.seq === 1)
            assert.ok(firstSent.length >= 2 && firstSent[0].connection !== firstSent[1].connection, "#1 was not sent again on the next connection")
            assert.strictEqual(d.count(/^hub: telemetry #1 acknowledged/), 1)
        },
    },
    {
        name: "a DPS answer larger than the device accepts",
        settings: { DPS_TIMEOUT: 4 },
        script: firstN("dpsRegister", 1, (c, pkt) => {
            pubackIfQos1(c, publishOf(pkt))
            const body = JSON.stringify({ operationId: "op-1", status: "assigning", pad: "x".repeat(20000) })
            serverPublish(c, "dps-response", dpsResponseTopic(202, ridOf(publishOf(pkt)), 1), body)
        }),
        async run(_peer, d) {
            await d.line(/^mqtt: dropped oversized packet/)
            await d.line(/^dps: assigned to localhost/, 45000)
        },
    },
    {
        name: "a time endpoint without a usable Date header",
        async run(peer, d) {
            peer.timeHead = (n) => (n <= 2 ? "HTTP/1.1 200 OK\r\nDate: yesterday\r\nConnection: close" : undefined!)
            await d.line(/^clock: \d+ s since epoch/, 30000)
            assert.ok(peer.timeRequests >= 3)
            assert.ok(d.count(/^clock: .*retrying in/) >= 2)
        },
    },
    {
        name: "a hub that accepts and drops every session does not make the device hammer it",
        script: {
            connect(c, pkt, peer) {
                peer.defaults.connect(c, pkt, peer)
                if (c.kind === "hub") setTimeout(() => c.sock.destroy(), 100)
            },
        },
        async run(peer, d) {
            await d.line(/^hub: connected/)
            const first = peer.of("hub")[0].openedMs
            await sleep(25000)
            const within = peer.of("hub").filter((c) => c.openedMs - first < 25000).length
            // Backoff 1, 2, 4, 8, 16 s (each scaled 0.5..1): at most 7 sessions in 25 s; resetting on CONNACK gave ~20.
            assert.ok(within <= 7, `${within} hub sessions in 25 s`)
            assert.strictEqual(peer.of("dps").length, 1, "transport failures made the device provision again")
        },
    },
    outageCase(Number(process.env.HOSTILE_OUTAGE_SEC ?? 40), Number(process.env.HOSTILE_INTERVAL_SEC ?? 1)),
]

/**
 * The service gone for `outageSec` while readings go on every `intervalSec`: none may be lost (the old
 * 32-slot queue lost them past 32), and the device is back within one backoff step of the service returning.
 */
function outageCase(outageSec: number, intervalSec: number): Case {
    const readings = Math.ceil(outageSec / intervalSec)
    return {
        name: `a ${outageSec} s outage at a ${intervalSec} s interval (${readings} readings) loses none, and the device is back within one backoff step`,
        settings: { INTERVAL: intervalSec },
        async run(peer, d) {
            await d.line(/^hub: telemetry #3 acknowledged/, 30000 + 3 * intervalSec * 1000)
            peer.up = false
            peer.dropAll()
            const down = Date.now()
            await sleep(outageSec * 1000)
            peer.up = true
            const back = Date.now()
            const atBack = peer.telemetry.length
            const want = readings + 6
            await d.line(new RegExp(`^hub: telemetry #${want} acknowledged`), 90000 + 6 * intervalSec * 1000)
            const waited = peer.telemetry[atBack].atMs - back
            // The wait in progress when the service returned began at most one capped step (1 s doubling, 60 s cap) earlier.
            let step = 1000
            for (let t = 1000; t < back - down; t += step) step = Math.min(step * 2, 60000)
            console.log(
                `      outage ${outageSec} s: ${readings} readings taken meanwhile, none lost; first telemetry ${waited} ms after the service returned (one step: ${step} ms)`
            )
            assert.ok(waited <= step + 2000, `back ${waited} ms after the service, one step is ${step} ms`)
            assert.deepStrictEqual(
                peer.seqs().slice(0, want),
                Array.from({ length: want }, (_, i) => i + 1)
            )
            assert.strictEqual(peer.of("dps").length, 1, "an outage made the device provision again")
            assert.strictEqual(d.count(/dropped/), 0)
        },
    }
}

describe("firmware against a hostile cloud", function () {
    // npm run soak stretches the outage; the bound grows with it.
    this.timeout(180000 + Number(process.env.HOSTILE_OUTAGE_SEC ?? 40) * 1500)
    defineCases(CASES)
})
