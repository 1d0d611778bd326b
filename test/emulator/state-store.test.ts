// The emulator's durable state: what a run keeps for the next one in its state directory
// (registrations, identities and their status, twins with versions, pending C2D with delivery
// counts, CA certificates and their proof of possession, the edge's queue, the telemetry kept),
// what `fresh` forgets, and the store's group commit. Kill -9 under load: test/crash/.
import * as assert from "assert"
import { until } from "../../sim/wait"
import * as fs from "fs"
import * as path from "path"
import { Emulator, EmulatorConfig } from "../../sim/emulator"
import { createRoot, createVerification } from "../../sim/pki/cert-tool"
import { sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { StateStore } from "../../sim/emulator/state/store"
import { group, provision } from "./fixtures"
import { nextEvent, tempDir, testConfig, testGateway, testPki } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { hubConnect, hubDevice, nextPublish, publish } from "./hub-fixtures"

describe("emulator state across restarts", () => {
    const fleet = group("fleet")
    const lab = hubDevice("lab-01")
    const gone = hubDevice("lab-gone")
    const edgeId = "edge-1"
    const leaf = { ...hubDevice("leaf-1"), parent: edgeId }
    let config: EmulatorConfig
    let stateDir: string
    let pkiDir: string

    // Making two PKIs takes a while on a loaded machine; each test is quick and keeps the runner's timeout.
    before(async function () {
        this.timeout(30_000)
        stateDir = path.join(tempDir("state"), "db")
        pkiDir = tempDir("state-x509")
        config = await testConfig({ enrollments: [fleet], devices: [lab, gone, hubDevice(edgeId), leaf], edges: [(await testGateway(edgeId)).gateway] })
    })

    async function run<T>(f: (e: Emulator, ports: { mqttPort: number; edgePort: number }) => Promise<T>, fresh = false): Promise<T> {
        const e = new Emulator(config, { stateDir, fresh })
        const { mqttPort } = await e.start()
        try {
            return await f(e, { mqttPort, edgePort: e.edgePort(edgeId) })
        } finally {
            await e.stop()
        }
    }

    it("keeps what the cloud keeps, and forgets it when started fresh", async () => {
        const ca = (await testPki()).rootCertFile
        const caPem = fs.readFileSync(ca, "utf8")
        const root = await createRoot(pkiDir, "fleet-root")
        const other = await createRoot(pkiDir, "other-root")
        const deviceKey = sasDeriveDeviceKey(fleet.attestation.primaryKey, "fleet-dev-1")
        await run(async (e, { mqttPort, edgePort }) => {
            // DPS: a group device provisions and sends telemetry, reports, gets a desired patch.
            const answers = await provision(mqttPort, caPem, { registrationId: "fleet-dev-1", key: deviceKey })
            assert.strictEqual(answers.at(-1)!.body.status, "assigned")
            const { client } = await hubConnect(mqttPort, caPem, { deviceId: "fleet-dev-1", key: deviceKey })
            await client.subscribe("devices/fleet-dev-1/messages/devicebound/#")
            for (const n of [1, 2]) {
                const id = publish(client, "devices/fleet-dev-1/messages/events/", `reading ${n}`)
                await client.next((p) => p.cmd === "puback" && p.messageId === id)
            }
            await client.subscribe("$iothub/twin/res/#")
            publish(client, "$iothub/twin/PATCH/properties/reported/?$rid=1", '{"fw":"1.0"}')
            await nextPublish(client, "$iothub/twin/res/204/")
            e.service.updateDesired("fleet-dev-1", { interval: 5 })
            // C2D: one delivered but not acknowledged (delivery count 1), one never delivered.
            client.autoAck = false
            e.service.sendC2d("fleet-dev-1", "first", { properties: { k: "v" } })
            await nextPublish(client, "devices/fleet-dev-1/messages/devicebound/")
            const gone = nextEvent(e, "connection.close")
            client.close()
            await gone
            e.service.sendC2d("fleet-dev-1", "second")
            // Identities changed at run time: disabled, deleted (it came from the config).
            e.service.setDeviceStatus("lab-01", "disabled")
            e.service.deleteDevice("lab-gone")
            // CA certificates: one proven by proof of possession, one with a code issued.
            e.dps.uploadCaCertificate("fleet-root", fs.readFileSync(root.certFile, "utf8"))
            const { verificationCode } = e.dps.generateVerificationCode("fleet-root")
            const proof = await createVerification(pkiDir, verificationCode, "fleet-root")
            e.dps.verifyCaCertificate("fleet-root", fs.readFileSync(proof.certFile, "utf8"))
            e.dps.uploadCaCertificate("other-root", fs.readFileSync(other.certFile, "utf8"))
            e.dps.generateVerificationCode("other-root")
            // The edge: uplink down, two leaf messages stored.
            e.service.setEdgeUplink(edgeId, false)
            const edgeCa = fs.readFileSync(path.join(path.dirname(config.edges[0].tls.cert), "edge-root.pem"), "utf8")
            const l = await hubConnect(edgePort, edgeCa, { deviceId: "leaf-1", key: leaf.primaryKey })
            for (const n of [1, 2]) {
                const id = publish(l.client, "devices/leaf-1/messages/events/", `stored ${n}`)
                await l.client.next((p) => p.cmd === "puback" && p.messageId === id)
            }
            l.client.close()
            await e.committed()
        })

        await run(async (e, { mqttPort }) => {
            const reg = e.registration("FLEET-DEV-1")!
            assert.deepStrictEqual([reg.status, reg.deviceId, reg.enrollmentGroupId], ["assigned", "fleet-dev-1", "fleet"])
            const twin = e.service.getTwin("fleet-dev-1").properties
            assert.deepStrictEqual(twin.reported, { fw: "1.0", $version: 2 })
            assert.deepStrictEqual(twin.desired, { interval: 5, $version: 2 })
            assert.deepStrictEqual(
                e.service.telemetry("fleet-dev-1").map((m) => m.body.toString()),
                ["reading 1", "reading 2"]
            )
            assert.strictEqual(e.service.getDevice("lab-01").status, "disabled")
            assert.throws(() => e.service.getDevice("lab-gone"), /not found/)
            const cas = Object.fromEntries(e.dps.listCaCertificates().map((c) => [c.name, c.isVerified]))
            assert.deepStrictEqual(cas, { "fleet-root": true, "other-root": false })
            assert.ok(e.state.certificates.get("other-root")!.verificationCode)
            // The edge still holds its queue; the uplink back up delivers it, in order.
            e.service.setEdgeUplink(edgeId, true)
            assert.deepStrictEqual(
                e.service.telemetry("leaf-1").map((m) => m.body.toString()),
                ["stored 1", "stored 2"]
            )
            // The device's keys, disabled status and queue are as they were.
            const refused = await hubConnect(mqttPort, caPem, { deviceId: "lab-01", key: lab.primaryKey })
            assert.strictEqual(refused.code, 5)
            const sent: number[] = []
            e.on("hub.c2d.sent", (m) => sent.push(m.deliveryCount))
            const { client, code, sessionPresent } = await hubConnect(mqttPort, caPem, { deviceId: "fleet-dev-1", key: deviceKey })
            assert.deepStrictEqual([code, sessionPresent], [0, true])
            const first = await nextPublish(client, "devices/fleet-dev-1/messages/devicebound/")
            const second = await nextPublish(client, "devices/fleet-dev-1/messages/devicebound/")
            assert.deepStrictEqual([first.payload.toString(), second.payload.toString()], ["first", "second"])
            assert.match(first.topic, /k=v/)
            assert.deepStrictEqual(sent, [2, 1], "delivery counts go on from where they were")
            client.close()
        })

        await run(async (e) => {
            assert.deepStrictEqual([e.registration("fleet-dev-1"), e.service.getDevice("lab-01").status], [undefined, "enabled"])
            assert.ok(e.service.getDevice("lab-gone"))
        }, true)
    })

    it("keeps telemetry within one byte bound for the whole emulator, while monitor-events sees every message", async () => {
        const caPem = fs.readFileSync((await testPki()).rootCertFile, "utf8")
        const bounded = { ...config, telemetry: { retainedBytes: 8 * 1024 } }
        const dir = tempDir("state-telemetry")
        const followed: string[] = []
        const kept = async (e: Emulator) => ["lab-01", "leaf-1"].flatMap((d) => e.service.telemetry(d)).map((m) => m.body.toString())
        const e = new Emulator(bounded, { stateDir: dir })
        const { mqttPort } = await e.start()
        let before: string[]
        try {
            e.service.monitorEvents((m) => followed.push(m.body.toString()))
            const { client } = await hubConnect(mqttPort, caPem, { deviceId: "lab-01", key: lab.primaryKey })
            for (let n = 0; n < 40; n++) {
                const id = publish(client, "devices/lab-01/messages/events/", `${n}:`.padEnd(400, "x"))
                await client.next((p) => p.cmd === "puback" && p.messageId === id)
            }
            client.close()
            before = await kept(e)
            const size = e.state.hub.telemetry.size
            assert.ok(size.bytes <= 8 * 1024 && size.messages >= 5 && size.messages < 40, JSON.stringify(size))
            assert.deepStrictEqual(before, followed.slice(-before.length), "the newest are kept")
            assert.strictEqual(followed.length, 40)
        } finally {
            await e.stop()
        }
        const again = new Emulator(bounded, { stateDir: dir })
        await again.start()
        try {
            assert.deepStrictEqual(await kept(again), before, "the store dropped the same messages")
        } finally {
            await again.stop()
        }
    })

    it("answers a poll made across a restart with the operation started before it", async () => {
        const caPem = fs.readFileSync((await testPki()).rootCertFile, "utf8")
        const key = sasDeriveDeviceKey(fleet.attestation.primaryKey, "fleet-poller")
        const o = { registrationId: "fleet-poller", key }
        const operationId = await run(async (_e, { mqttPort }) => {
            const c = await RawClient.open(mqttPort, caPem)
            assert.strictEqual(await c.connect(o), 0)
            await c.subscribe()
            const answer = await c.register("1", { registrationId: "fleet-poller" })
            c.close()
            assert.strictEqual(answer.status, 202)
            return answer.body.operationId as string
        })
        await run(async (_e, { mqttPort }) => {
            const c = await RawClient.open(mqttPort, caPem)
            assert.strictEqual(await c.connect(o), 0)
            await c.subscribe()
            let answer = await c.poll("2", operationId)
            for (let i = 3; answer.status === 202; i++) answer = await c.poll(String(i), operationId)
            c.close()
            assert.deepStrictEqual([answer.status, answer.body.status, answer.body.operationId], [200, "assigned", operationId])
        })
    })

    it("commits a burst of writes in a few batches and tells when they are on disk", async () => {
        const store = await StateStore.open(tempDir("state-burst"))
        try {
            assert.strictEqual(store.barrier(), undefined)
            for (let i = 0; i < 1000; i++) store.put(`k/${String(i).padStart(4, "0")}`, () => ({ i }))
            const barrier = store.barrier()
            assert.ok(barrier)
            await barrier
            assert.strictEqual(store.stats.writes, 1000)
            assert.strictEqual(store.stats.commits, 1)
            store.del("k/0000")
            await store.barrier()
            const keys = (await store.load()).map(([k]) => k)
            assert.deepStrictEqual([keys.length, keys[0]], [999, "k/0001"])
        } finally {
            await store.close()
        }
    })

    it("refuses a second emulator on the same state directory", async () => {
        const dir = tempDir("state-lock")
        const first = await StateStore.open(dir)
        try {
            await assert.rejects(StateStore.open(dir))
        } finally {
            await first.close()
        }
    })

    it("keeps when each device last connected or disconnected, and shows it disconnected after a restart", async () => {
        const caPem = fs.readFileSync((await testPki()).rootCertFile, "utf8")
        const disconnectedAt = await run(async (e, { mqttPort }) => {
            assert.strictEqual(e.service.getDevice("lab-01").connectionStateUpdatedTimeUtc, undefined)
            const { client } = await hubConnect(mqttPort, caPem, { deviceId: "lab-01", key: lab.primaryKey })
            await until("connected", () => e.service.getDevice("lab-01").connectionState === "Connected", 5000)
            const connectedAt = e.service.getDevice("lab-01").connectionStateUpdatedTimeUtc!
            client.close()
            await until("disconnected", () => e.service.getDevice("lab-01").connectionState === "Disconnected", 5000)
            const at = e.service.getDevice("lab-01").connectionStateUpdatedTimeUtc!
            assert.ok(Date.parse(at) >= Date.parse(connectedAt))
            return at
        })
        await run(async (e) => {
            const view = e.service.getDevice("lab-01")
            assert.strictEqual(view.connectionState, "Disconnected")
            assert.strictEqual(view.connectionStateUpdatedTimeUtc, disconnectedAt)
        })
    })

    it("delivers redelivered C2D with its delivery count after a restart", async () => {
        // Covered above for order and count; here the count itself after one more restart.
        const deviceKey = sasDeriveDeviceKey(fleet.attestation.primaryKey, "fleet-dev-2")
        const caPem = fs.readFileSync((await testPki()).rootCertFile, "utf8")
        await run(async (e, { mqttPort }) => {
            await provision(mqttPort, caPem, { registrationId: "fleet-dev-2", key: deviceKey })
            e.service.sendC2d("fleet-dev-2", "once")
            const { client } = await hubConnect(mqttPort, caPem, { deviceId: "fleet-dev-2", key: deviceKey, clean: true })
            client.autoAck = false
            await client.subscribe("devices/fleet-dev-2/messages/devicebound/#")
            await nextPublish(client, "devices/fleet-dev-2/messages/devicebound/")
            client.close()
            await client.closed
        })
        await run(async (e) => {
            const [m] = e.state.hub.device("fleet-dev-2")!.c2d.undelivered()
            assert.deepStrictEqual([m.body.toString(), m.deliveryCount], ["once", 1])
        })
    })
})
