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
import { X509Certificate } from "crypto"
import { hubAuthenticate } from "../../sim/emulator/auth/hub-auth"
import { SAS_SKEW_SEC, sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { x509CommonName } from "../../sim/emulator/auth/x509"
import { createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki/certificates"
import { nodeCert, pem } from "./x509-fixtures"
import { enrollmentId, individualEnrollment, validateConfig, validateEnrollment } from "../../sim/emulator/config"
import { EnrollmentStore } from "../../sim/emulator/state/enrollments"
import { EmulatorState } from "../../sim/emulator/state/state"
import { StateStore } from "../../sim/emulator/state/store"
import { telemetryCost } from "../../sim/emulator/state/telemetry-log"
import { group, provision } from "./fixtures"
import { ID_SCOPE, nextEvent, randomKey, tempDir, testConfig, testGateway, testPki } from "../support/emulator"
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

// The same restart path as the emulator's (index.ts openStore), without an emulator: a new store gets
// everything held in memory, an existing one replaces it, and every change goes to the store from then on.
describe("state records across a restart", () => {
    const NOW = new Date("2026-06-01T00:00:00Z")
    const keys = { primaryKey: randomKey(), secondaryKey: randomKey() }
    let dir: string
    let store: StateStore | undefined

    beforeEach(() => (dir = tempDir("state-records")))
    afterEach(async () => {
        await store?.close()
        store = undefined
    })

    /** Opens `dir` as the emulator does on start; `state` is what memory holds before. */
    async function start(state = new EmulatorState(1 << 20)): Promise<EmulatorState> {
        await store?.close()
        store = await StateStore.open(dir)
        const entries = await store.load()
        if (entries.length) state.restore(entries)
        state.attach(store, entries.length === 0)
        return state
    }

    const c2d = (body: string) => ({
        messageId: body,
        body: Buffer.from(body),
        properties: {},
        systemProperties: {},
        enqueuedTimeUtc: NOW.toISOString(),
        deliveryCount: 0,
    })
    const pending = (s: EmulatorState, deviceId: string) =>
        s.hub
            .device(deviceId)!
            .c2d.undelivered()
            .map((m) => m.body.toString())
    const telemetry = (body: string, properties: Record<string, string> = {}, systemProperties: Record<string, string> = {}) => ({
        deviceId: "d",
        hub: "hub.local",
        properties,
        systemProperties,
        body: Buffer.from(body),
        enqueuedTimeUtc: NOW.toISOString(),
    })

    it("queues a C2D message sent after a restart behind those still pending, without replacing one", async () => {
        let s = await start()
        // "ce" is also a slice of its own record's key (`device/ce`), as C2D keys are read (`c2d/ce/...`).
        const d = s.hub.assignDevice("ce", "hub.local", { type: "sas", keys }, NOW)
        for (const body of ["a", "b", "c"]) d.c2d.enqueue(c2d(body))
        d.c2d.delivered(d.c2d.undelivered()[0], 1)
        assert.deepStrictEqual(pending(s, "ce"), ["b", "c"], "a message in flight is not handed out again")
        d.c2d.complete(1)
        s = await start()
        s.hub.device("ce")!.c2d.enqueue(c2d("d"))
        assert.deepStrictEqual(pending(s, "ce"), ["b", "c", "d"])
        s = await start()
        assert.deepStrictEqual(pending(s, "ce"), ["b", "c", "d"])
    })

    it("re-provisions an identity with new credentials and hub, keeping its status and twin across a restart", async () => {
        let s = await start()
        const d = s.hub.assignDevice("d", "hub.local", { type: "sas", keys }, NOW)
        assert.deepStrictEqual([d.iotEdge, d.status], [false, "enabled"])
        d.status = "disabled"
        d.twin = { ...d.twin, desired: { interval: 5 }, desiredVersion: 2 }
        s.hub.changed(d)
        const moved = { primaryKey: randomKey() }
        s.hub.assignDevice("d", "other.local", { type: "sas", keys: moved }, NOW, "enabled", { registrationId: "d", enrollmentId: "fleet" })
        s = await start()
        const back = s.hub.device("d")!
        assert.deepStrictEqual(
            [back.hub, back.authentication, back.status, back.twin.desired, back.provisionedBy],
            ["other.local", { type: "sas", keys: moved }, "disabled", { interval: 5 }, { registrationId: "d", enrollmentId: "fleet" }]
        )
        assert.deepStrictEqual([s.hub.delete("d"), s.hub.delete("d")], [true, false])
    })

    it("does not give a deleted device's C2D messages to a new identity of the same id", async () => {
        let s = await start()
        s.hub.assignDevice("d", "hub.local", { type: "sas", keys }, NOW).c2d.enqueue(c2d("for the old one"))
        s = await start()
        assert.ok(s.hub.delete("d"))
        s.hub.assignDevice("d", "hub.local", { type: "sas", keys }, NOW)
        s = await start()
        assert.deepStrictEqual(pending(s, "d"), [])
    })

    it("keeps each registration's newest operations across restarts, whatever their ids", async () => {
        const op = (operationId: string, registrationId = "Dev-1") => ({ operationId, registrationId, pollsLeft: 1 })
        const kept = (s: EmulatorState, ids: string[]) => ids.filter((id) => s.operation(id))
        const all = ["op-d", "op-c", "op-b", "op-a", "op-e", "op-f", "other"]
        let s = await start()
        // Ids in reverse key order: the store lists them opposite to the order they were made.
        for (const id of ["op-d", "op-c", "op-b", "op-a"]) s.addOperation(op(id))
        s.addOperation(op("other", "dev-2"))
        s = await start()
        s.addOperation(op("op-e", "DEV-1"))
        assert.deepStrictEqual(kept(s, all), ["op-c", "op-b", "op-a", "op-e", "other"])
        s = await start()
        s.addOperation(op("op-f"))
        assert.deepStrictEqual(kept(s, all), ["op-b", "op-a", "op-e", "op-f", "other"])
        s = await start()
        assert.deepStrictEqual(kept(s, all), ["op-b", "op-a", "op-e", "op-f", "other"])
        // Numbering goes on from the newest kept: op-e and op-f stay newer than op-a.
        s.addOperation(op("op-g"))
        s.addOperation(op("op-h"))
        assert.deepStrictEqual(kept(s, [...all, "op-g", "op-h"]), ["op-e", "op-f", "other", "op-g", "op-h"])
    })

    it("forgets a deleted registration and its operations, across a restart too", async () => {
        let s = await start()
        const stamp = NOW.toISOString()
        for (const registrationId of ["Dev-1", "dev-2"]) {
            s.putRegistration({
                registrationId,
                enrollmentId: registrationId,
                attestationType: "symmetricKey",
                status: "assigned",
                createdDateTimeUtc: stamp,
                lastUpdatedDateTimeUtc: stamp,
                etag: "1",
            })
            s.addOperation({ operationId: `op-${registrationId}`, registrationId, pollsLeft: 0 })
        }
        s.deleteRegistration("DEV-1")
        const left = (s: EmulatorState) => [s.registrations().map((r) => r.registrationId), s.operation("op-Dev-1"), s.operation("op-dev-2")?.registrationId]
        assert.deepStrictEqual(left(s), [["dev-2"], undefined, "dev-2"])
        s = await start()
        assert.deepStrictEqual(left(s), [["dev-2"], undefined, "dev-2"])
    })

    it("keeps a device authenticated by a CA working after a restart, with or without the CA DPS validated", async () => {
        const root = await createRootCa({ commonName: "Restart Root" })
        const intermediate = await issueIntermediateCa(root, { commonName: "Restart Intermediate" })
        const [viaAssignment, viaVerified] = await Promise.all(["ca-dev-1", "ca-dev-2"].map((commonName) => issueClientCert(intermediate, { commonName })))
        let s = await start()
        // The first was assigned by a group whose CA is the intermediate; the second trusts the hub's verified CAs.
        s.hub.assignDevice("ca-dev-1", "hub.local", { type: "certificateAuthority", ca: nodeCert(intermediate) }, NOW)
        s.hub.assignDevice("ca-dev-2", "hub.local", { type: "certificateAuthority" }, NOW)
        s.certificates.upload("restart-root", pem(root), true)
        s = await start()
        const ctx = { hubs: ["hub.local"], registry: s.hub, certificates: s.certificates, now: new Date(), skewSec: SAS_SKEW_SEC }
        const connect = (deviceId: string, chain: X509Certificate[]) =>
            hubAuthenticate({ clientId: deviceId, username: `hub.local/${deviceId}/?api-version=2021-04-12` }, chain, ctx).ok
        assert.deepStrictEqual(
            [connect("ca-dev-1", [nodeCert(viaAssignment)]), connect("ca-dev-2", [nodeCert(viaVerified), nodeCert(intermediate)])],
            [true, true]
        )
        assert.strictEqual(connect("ca-dev-2", [nodeCert(viaVerified)]), false, "the intermediate is trusted only for the device DPS assigned through it")
    })

    it("keeps CA certificates, their verification and outstanding code across a restart, and forgets a deleted one", async () => {
        const [fleet, other] = await Promise.all(["Fleet Root", "Other Root"].map((commonName) => createRootCa({ commonName })))
        let s = await start()
        s.certificates.upload("Fleet-Root", pem(fleet))
        const { verificationCode } = s.certificates.generateVerificationCode("fleet-root")
        s.certificates.upload("other-root", pem(other), true)
        assert.ok(s.certificates.delete("OTHER-ROOT"))
        s = await start()
        assert.deepStrictEqual(
            s.certificates.list().map((c) => [c.name, c.isVerified]),
            [["Fleet-Root", false]]
        )
        s.certificates.verify("FLEET-ROOT", pem(await issueClientCert(fleet, { commonName: verificationCode })))
        s = await start()
        assert.deepStrictEqual(s.certificates.verifiedCertificates().map(x509CommonName), ["Fleet Root"])
    })

    it("writes all it held into a new store: identities, C2D, telemetry, CAs, registrations and operations", async () => {
        const held = new EmulatorState(1 << 20)
        held.hub.assignDevice("d", "hub.local", { type: "sas", keys }, NOW).c2d.enqueue(c2d("queued"))
        held.hub.telemetry.add(telemetry("kept"))
        held.certificates.upload("held-root", pem(await createRootCa({ commonName: "Held Root" })), true)
        const stamp = NOW.toISOString()
        held.putRegistration({
            registrationId: "dev-1",
            enrollmentId: "dev-1",
            attestationType: "symmetricKey",
            status: "assigning",
            createdDateTimeUtc: stamp,
            lastUpdatedDateTimeUtc: stamp,
            etag: "1",
        })
        held.addOperation({ operationId: "op-1", registrationId: "dev-1", pollsLeft: 2 })
        await start(held)
        const s = await start()
        assert.deepStrictEqual(
            [pending(s, "d"), s.hub.telemetry.forDevice("d").map((m) => m.body.toString()), s.certificates.verifiedCertificates().map(x509CommonName)],
            [["queued"], ["kept"], ["Held Root"]]
        )
        assert.deepStrictEqual([s.registration("DEV-1")?.status, s.operation("op-1")?.pollsLeft], ["assigning", 2])
        assert.strictEqual(s.hub.telemetry.add(telemetry("next")).sequenceNumber, 2)
    })

    describe("enrollments changed at run time", () => {
        const individualKey = randomKey()
        const configOf = (hubs = ["hub.local", "other.local"]) =>
            validateConfig({
                tls: { cert: "s.pem", key: "s.key" },
                dps: { idScope: ID_SCOPE },
                hubs: hubs.map((hostName) => ({ hostName })),
                enrollments: [
                    { registrationId: "dev-1", attestation: { type: "symmetricKey", primaryKey: individualKey } },
                    { enrollmentGroupId: "fleet", attestation: { type: "symmetricKey", primaryKey: randomKey() } },
                    { enrollmentGroupId: "untouched", attestation: { type: "symmetricKey", primaryKey: randomKey() } },
                ],
            })
        async function startDps(config = configOf()): Promise<EnrollmentStore> {
            await store?.close()
            store = await StateStore.open(dir)
            const enrollments = new EnrollmentStore(config)
            enrollments.attach(store, await store.load())
            return enrollments
        }
        const put = (e: EnrollmentStore, raw: Record<string, unknown>, etag: string) =>
            e.put(validateEnrollment(configOf(), raw), raw, { etag, createdDateTimeUtc: etag })
        // Sorted: the order of the list is not DPS's promise.
        const ids = (e: EnrollmentStore, kind: "individual" | "group") =>
            e
                .list(kind)
                .map((x) => [enrollmentId(x), e.metaOf(x)?.etag])
                .sort(([a], [b]) => a!.localeCompare(b!))

        it("applies what was created, replaced and deleted over the config at the next start, an individual and a group sharing an id", async () => {
            let e = await startDps()
            const key = randomKey()
            put(e, { registrationId: "Shared", attestation: { type: "symmetricKey", primaryKey: key } }, "i1")
            put(e, { enrollmentGroupId: "shared", attestation: { type: "symmetricKey", primaryKey: key } }, "g1")
            put(e, { enrollmentGroupId: "FLEET", iotHubHostName: "other.local", attestation: { type: "symmetricKey", primaryKey: key } }, "g2")
            e.delete("individual", "DEV-1")
            e = await startDps()
            assert.deepStrictEqual(ids(e, "individual"), [["Shared", "i1"]])
            assert.deepStrictEqual(ids(e, "group"), [
                ["FLEET", "g2"],
                ["shared", "g1"],
                ["untouched", undefined],
            ])
            assert.strictEqual(e.get("group", "fleet")?.kind === "group" && e.get("group", "fleet")?.iotHubHostName, "other.local")
            assert.strictEqual(e.metaOf(e.get("group", "SHARED")!)?.createdDateTimeUtc, "g1")
            assert.strictEqual(e.get("individual", "SHARED")?.kind, "individual")
            // Deleting one of the two "shared" leaves the other; a config group deleted stays deleted;
            // one deleted and then made again counts.
            e.delete("individual", "shared")
            e.delete("group", "untouched")
            put(e, { registrationId: "dev-1", attestation: { type: "symmetricKey", primaryKey: individualKey } }, "i2")
            const expected = {
                individual: [["dev-1", "i2"]],
                group: [
                    ["FLEET", "g2"],
                    ["shared", "g1"],
                ],
            }
            assert.deepStrictEqual({ individual: ids(e, "individual"), group: ids(e, "group") }, expected)
            e = await startDps()
            assert.deepStrictEqual({ individual: ids(e, "individual"), group: ids(e, "group") }, expected)
        })

        it("DPS authentication sees enrollments created, replaced and deleted at run time at once", async () => {
            const config = configOf()
            const e = await startDps(config)
            assert.strictEqual(individualEnrollment(config, "DEV-1")?.registrationId, "dev-1")
            assert.strictEqual(individualEnrollment(config, "new-1"), undefined)
            put(e, { registrationId: "New-1", attestation: { type: "symmetricKey", primaryKey: randomKey() } }, "i1")
            assert.strictEqual(individualEnrollment(config, "new-1")?.registrationId, "New-1")
            const key = randomKey()
            put(e, { registrationId: "new-1", attestation: { type: "symmetricKey", primaryKey: key } }, "i2")
            const replaced = individualEnrollment(config, "NEW-1")?.attestation
            assert.strictEqual(replaced?.type === "symmetricKey" && replaced.primaryKey, key)
            e.delete("individual", "dev-1")
            assert.strictEqual(individualEnrollment(config, "dev-1"), undefined)
            // Deleted, then another made: the list has its old length with a new member.
            put(e, { registrationId: "new-2", attestation: { type: "symmetricKey", primaryKey: randomKey() } }, "i3")
            assert.strictEqual(individualEnrollment(config, "new-2")?.registrationId, "new-2")
        })

        it("refuses to start when a kept enrollment no longer fits the config, naming it", async () => {
            const e = await startDps()
            put(e, { enrollmentGroupId: "fleet", iotHubHostName: "other.local", attestation: { type: "symmetricKey", primaryKey: randomKey() } }, "g1")
            await assert.rejects(startDps(configOf(["hub.local"])), /enrollment fleet kept in the state no longer fits the config .*--fresh/)
        })
    })

    it("keeps telemetry in order and numbers on after a restart, past nine messages", async () => {
        let s = await start()
        for (let n = 1; n <= 12; n++) s.hub.telemetry.add(telemetry(`m${n}`))
        s = await start()
        assert.deepStrictEqual(
            s.hub.telemetry.forDevice("d").map((m) => [m.sequenceNumber, m.body.toString()]),
            Array.from({ length: 12 }, (_, i) => [i + 1, `m${i + 1}`])
        )
        assert.strictEqual(s.hub.telemetry.add(telemetry("m13")).sequenceNumber, 13)
    })

    it("numbers on after a restart even when the byte bound kept no message", async () => {
        let s = await start(new EmulatorState(100))
        for (let n = 1; n <= 3; n++) s.hub.telemetry.add(telemetry(`m${n}`))
        assert.deepStrictEqual(s.hub.telemetry.size, { messages: 0, bytes: 0 })
        s = await start(new EmulatorState(100))
        assert.strictEqual(s.hub.telemetry.add(telemetry("m4")).sequenceNumber, 4)
    })

    it("holds the telemetry byte bound across a restart, dropping the oldest first", async () => {
        const one = telemetryCost({ ...telemetry("m1"), sequenceNumber: 1 })
        const bound = () => new EmulatorState(3 * one)
        let s = await start(bound())
        for (let n = 1; n <= 3; n++) s.hub.telemetry.add(telemetry(`m${n}`))
        s = await start(bound())
        assert.deepStrictEqual(s.hub.telemetry.size, { messages: 3, bytes: 3 * one })
        s.hub.telemetry.add(telemetry("m4"))
        s = await start(bound())
        assert.deepStrictEqual(
            s.hub.telemetry.forDevice("d").map((m) => m.body.toString()),
            ["m2", "m3", "m4"]
        )
    })

    it("keeps only the newest telemetry, at the right size, after more than a thousand messages were dropped", () => {
        // Past 1024 dropped messages the log lets go of them in memory; nothing dropped may come back.
        const big = telemetry("x".repeat(5000))
        const small = telemetryCost({ ...telemetry("m"), sequenceNumber: 1 })
        const log = new EmulatorState(2 * small).hub.telemetry
        log.add(big)
        for (let n = 1; n <= 1100; n++) log.add(telemetry("m"))
        assert.deepStrictEqual(log.size, { messages: 2, bytes: 2 * small })
        assert.deepStrictEqual(
            log.forDevice("d").map((m) => m.sequenceNumber),
            [1100, 1101]
        )
    })

    it("counts property names and values and system property values against the telemetry bound", async () => {
        const plain = telemetryCost({ ...telemetry("m"), sequenceNumber: 1 })
        const s = await start(new EmulatorState(2 * plain + 10))
        s.hub.telemetry.add(telemetry("m"))
        s.hub.telemetry.add(telemetry("m"))
        assert.strictEqual(s.hub.telemetry.size.messages, 2)
        // Each of these is 11 bytes dearer than a plain message: two no longer fit.
        for (const m of [
            telemetry("m", { k: "v".repeat(10) }),
            telemetry("m", { ["k".repeat(10)]: "v" }),
            telemetry("m", {}, { contentType: "x".repeat(11) }),
        ]) {
            s.hub.telemetry.add(m)
            s.hub.telemetry.add(m)
            assert.strictEqual(s.hub.telemetry.size.messages, 1, JSON.stringify(m.properties))
        }
    })
})
