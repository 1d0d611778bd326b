// The firmware's MQTT client in the VM against a scripted TLS peer: split, joined and
// oversized packets, a connection dropped mid-packet, refusals, acks and keepalive.
import * as assert from "assert"
import * as path from "path"
import * as fs from "fs"
import * as os from "os"
import { buildFirmware } from "../../sim/host/build"
import { runDeviceTest } from "../../sim/host/run-device-test"
import { writeTestPki } from "../../sim/pki"
import { ScriptedPeer } from "./mqtt-peer"
import { deviceSuite } from "../builds"

describe("firmware MQTT client against a scripted peer", function () {
    this.timeout(90000)
    let peer: ScriptedPeer
    let result: { passed: boolean; output: string[] }

    before(async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mqtt-peer-pki-"))
        const pki = await writeTestPki(dir)
        peer = new ScriptedPeer({
            cert: fs.readFileSync(pki.serverCertFile),
            key: fs.readFileSync(pki.serverKeyFile),
        })
        const port = await peer.listen()
        const suite = deviceSuite("mqtt-client")
        const { outFile } = await buildFirmware(suite.entry, suite.image)
        result = await runDeviceTest(outFile, {
            settings: { PEER_HOST: "localhost", PEER_PORT: port },
            trustAnchors: [fs.readFileSync(pki.rootCertFile, "utf8")],
            timeoutMs: 60000,
        })
    })
    after(async () => {
        await peer?.close()
    })

    it("passes every in-VM scenario", () => {
        assert.ok(result.passed, result.output.join("\n"))
        assert.match(result.output.join("\n"), /tests: 13, pass: 13, error: 0/)
    })
    it("acknowledged every QoS 1 message of the split and joined writes", () => {
        const acks = peer
            .record("split")
            .packets.filter((p) => p.cmd === "puback")
            .map((p) => (p as { messageId: number }).messageId)
        assert.deepStrictEqual(acks.sort(), [1, 2, 3])
    })
    it("reconnected after the drop with a fresh CONNECT", () => {
        assert.strictEqual(peer.record("drop").packets.filter((p) => p.cmd === "connect").length, 2)
    })
    it("sent PINGREQ on an idle link", () => {
        assert.ok(peer.record("pingok").packets.some((p) => p.cmd === "pingreq"))
        assert.ok(peer.record("pingdead").packets.some((p) => p.cmd === "pingreq"))
    })
    it("said DISCONNECT before every close, across connect/close cycles", () => {
        const cycle = peer.record("cycle").packets
        const connects = cycle.filter((p) => p.cmd === "connect").length
        assert.strictEqual(connects, 42)
        assert.strictEqual(cycle.filter((p) => p.cmd === "disconnect").length, connects)
        assert.strictEqual(peer.record("lingering").packets.filter((p) => p.cmd === "disconnect").length, 1)
    })
    it("used distinct packet ids for consecutive publishes, never 0", () => {
        const ids = peer
            .record("puback")
            .packets.filter((p) => p.cmd === "publish")
            .map((p) => (p as { messageId: number }).messageId)
        assert.strictEqual(new Set(ids).size, ids.length)
        const all = peer.records.flatMap((r) => r.packets).filter((p) => p.cmd === "publish" || p.cmd === "subscribe")
        assert.ok(all.length > 0)
        for (const p of all) {
            const id = (p as { messageId?: number; qos?: number }).messageId
            if (p.cmd === "subscribe" || (p as { qos: number }).qos > 0) assert.ok(id !== undefined && id >= 1 && id <= 65535, `${p.cmd} with packet id ${id}`)
        }
    })
    it("wrote a PUBACK and the next PUBLISH in one write, and a lone PUBACK within its hold", () => {
        const chunks = peer
            .record("coalesce")
            .chunks.map((c) => c.map((p) => (p.cmd === "publish" ? `publish ${p.topic}` : p.cmd === "puback" ? `puback ${p.messageId}` : p.cmd)))
        assert.ok(
            chunks.some((c) => c.join(",") === "puback 1,publish out/1"),
            JSON.stringify(chunks)
        )
        assert.ok(
            chunks.some((c) => c.join(",") === "puback 2"),
            JSON.stringify(chunks)
        )
    })
    it("sent the SUBSCRIBEs together", () => {
        const chunks = peer.record("pipeline").chunks
        assert.ok(
            chunks.some((c) => c.filter((p) => p.cmd === "subscribe").length === 3),
            JSON.stringify(chunks.map((c) => c.map((p) => p.cmd)))
        )
    })
})
