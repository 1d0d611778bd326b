// kill -9 of the emulator under load: the standalone emulator (sim/emulator/cli.ts, a child
// process with a state directory) serves devices provisioning through a group, sending telemetry,
// a leaf filling the edge's store while its uplink is down, and the service side queueing C2D and
// patching a twin; it is killed mid-stream and reopened on the same state. Whatever it
// acknowledged (PUBACK, CONNACK after assignment, 2xx) is there, exactly once: these clients never
// retransmit, so QoS 1 allows no duplicate here. Disabled stays disabled, a verified CA verified.
import * as assert from "assert"
import { ChildProcess, spawn } from "child_process"
import * as fs from "fs"
import * as path from "path"
import { Emulator, loadConfig, sasDeriveDeviceKey } from "../../sim/emulator"
import { ServiceClient } from "../../sim/emulator/service/service-client"
import { ROOT } from "../../sim/paths"
import { until } from "../../sim/wait"
import { writeEdgePki } from "../../sim/pki"
import { createRoot, createVerification } from "../../sim/pki/cert-tool"
import { provision } from "../emulator/fixtures"
import { ID_SCOPE, tempDir, testPki } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { hubConnect, publish } from "../emulator/hub-fixtures"

// The load runs until every kind of work has been acknowledged a few times (at least LOAD_MS), then
// the emulator is killed in the middle of it.
const LOAD_MS = 1500
const LOAD_MAX_MS = 15_000
const PROVISIONERS = 4
const EDGE = "edge-1"

interface Child {
    proc: ChildProcess
    out: string
    ports: { mqtt: number; service: number; edge: number }
}

function startChild(configFile: string, secretsFile: string, stateDir: string): Promise<Child> {
    const proc = spawn(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "sim/emulator/cli.ts", "--config", configFile, "--secrets", secretsFile, "--state", stateDir],
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }
    )
    const child = { proc, out: "", ports: { mqtt: 0, service: 0, edge: 0 } }
    proc.stdout!.on("data", (d) => (child.out += d))
    proc.stderr!.on("data", (d) => (child.out += d))
    return new Promise((resolve, reject) => {
        const check = setInterval(() => {
            const mqtt = child.out.match(/on mqtts:\/\/127\.0\.0\.1:(\d+)\n/)
            const service = child.out.match(/service endpoint on https:\/\/127\.0\.0\.1:(\d+)/)
            const edge = child.out.match(/IoT Edge gateway edge-1 on mqtts:\/\/127\.0\.0\.1:(\d+)/)
            if (mqtt && service && edge && /enrollments /.test(child.out)) {
                clearInterval(check)
                child.ports = { mqtt: Number(mqtt[1]), service: Number(service[1]), edge: Number(edge[1]) }
                resolve(child)
            } else if (proc.exitCode !== null) {
                clearInterval(check)
                reject(new Error(`emulator exited: ${child.out}`))
            }
        }, 20)
    })
}

describe("emulator crash: kill -9 under load, then the same state again", function () {
    this.timeout(60_000)
    let dir: string
    let child: Child | undefined

    after(() => {
        if (child?.proc.exitCode === null) child.proc.kill("SIGKILL")
    })

    it("loses nothing it acknowledged and duplicates nothing", async () => {
        const pki = await testPki()
        dir = tempDir("crash")
        const edgePki = await writeEdgePki(path.join(dir, "edge-pki"), "localhost")
        const configFile = path.join(dir, "config.json")
        const secretsFile = path.join(dir, "secrets.json")
        const stateDir = path.join(dir, "state")
        fs.writeFileSync(
            configFile,
            JSON.stringify({
                bind: "127.0.0.1",
                ports: { mqtt: 0, https: 0, service: 0, edge: 0 },
                tls: { cert: pki.serverCertFile, key: pki.serverKeyFile, ca: pki.rootCertFile },
                dps: { idScope: ID_SCOPE, retryAfter: 0 },
                hubs: [{ hostName: "localhost" }],
                enrollments: [{ enrollmentGroupId: "fleet", attestation: { type: "symmetricKey" } }],
                devices: [{ deviceId: "quiet" }, { deviceId: "off" }, { deviceId: EDGE }, { deviceId: "leaf-1", parent: EDGE }],
                edges: [{ deviceId: EDGE, tls: { cert: edgePki.serverCertFile, key: edgePki.serverKeyFile } }],
            })
        )
        child = await startChild(configFile, secretsFile, stateDir)
        const secrets = JSON.parse(fs.readFileSync(secretsFile, "utf8"))
        const ca = fs.readFileSync(pki.rootCertFile, "utf8")
        const edgeCa = fs.readFileSync(edgePki.rootCertFile, "utf8")
        const service = new ServiceClient({ host: "127.0.0.1", port: child.ports.service, ca, hub: "localhost", serviceKey: secrets.$iothubowner.primaryKey })

        // Acknowledged before the load: a device disabled, a CA proven, the edge's uplink cut.
        await service.setDeviceStatus("off", "disabled")
        const x509 = path.join(dir, "x509")
        const root = await createRoot(x509, "crash-root")
        await service.uploadCaCertificate("crash-root", fs.readFileSync(root.certFile, "utf8"))
        const { verificationCode } = await service.generateVerificationCode("crash-root")
        const proof = await createVerification(x509, verificationCode, "crash-root")
        await service.verifyCaCertificate("crash-root", fs.readFileSync(proof.certFile, "utf8"))
        await service.setEdgeUplink(EDGE, false)

        // The load; every acknowledgement is written down as it arrives.
        const acked = { telemetry: new Map<string, number[]>(), sent: new Map<string, number[]>(), assigned: [] as string[], c2d: [] as string[], desired: 0 }
        let killed = false
        const note = (m: Map<string, number[]>, id: string, n: number) => m.set(id, [...(m.get(id) ?? []), n])
        /** Publishes QoS 1 telemetry one message at a time until the connection dies. */
        async function stream(client: RawClient, deviceId: string) {
            for (let n = 1; !killed; n++) {
                const id = publish(client, `devices/${deviceId}/messages/events/`, `${deviceId}:${n}`)
                note(acked.sent, deviceId, n)
                await client.next((p) => p.cmd === "puback" && p.messageId === id)
                note(acked.telemetry, deviceId, n)
            }
        }
        const groupKey = secrets.fleet.primaryKey
        async function provisioner(k: number) {
            for (let i = 0; !killed; i++) {
                const registrationId = `crash-${k}-${i}`
                const key = sasDeriveDeviceKey(groupKey, registrationId)
                const answers = await provision(child!.ports.mqtt, ca, { registrationId, key })
                if (answers.at(-1)!.body.status !== "assigned") throw new Error(JSON.stringify(answers))
                acked.assigned.push(registrationId)
                const { client, code } = await hubConnect(child!.ports.mqtt, ca, { deviceId: registrationId, key })
                assert.strictEqual(code, 0)
                await stream(client, registrationId)
            }
        }
        async function leaf() {
            const { client, code } = await hubConnect(child!.ports.edge, edgeCa, { deviceId: "leaf-1", key: secrets["devices/leaf-1"].primaryKey })
            assert.strictEqual(code, 0)
            await stream(client, "leaf-1")
        }
        async function cloud() {
            for (let n = 1; !killed; n++) {
                if (acked.c2d.length < 40) acked.c2d.push((await service.sendC2d("quiet", `c2d ${n}`)).messageId)
                await service.updateDesired("quiet", { n })
                acked.desired = n
            }
        }
        // Provisioning devices keep joining the load; the first few are given a head start.
        const provisioners = [...Array(PROVISIONERS).keys()].map((k) => new Promise((r) => setTimeout(r, k * 150)).then(() => provisioner(k)))
        const load = Promise.allSettled([...provisioners, leaf(), cloud()])
        const count = (id: string) => acked.telemetry.get(id)?.length ?? 0
        const enough = () => acked.assigned.length >= PROVISIONERS && count("leaf-1") > 5 && acked.c2d.length > 5 && acked.assigned.every((id) => count(id) > 5)
        await new Promise((r) => setTimeout(r, LOAD_MS))
        await until("enough acknowledged load", enough, LOAD_MAX_MS)
        const exited = new Promise((r) => child!.proc.once("exit", r))
        killed = true
        child.proc.kill("SIGKILL")
        const outcomes = await load
        await exited
        for (const o of outcomes) if (o.status === "rejected") assert.match(String(o.reason), /closed|ECONNRESET|socket hang up|ECONNREFUSED/)

        // The same state, opened again (in this process, to look inside).
        const emulator = new Emulator(loadConfig(configFile, secretsFile), { stateDir })
        const { mqttPort } = await emulator.start()
        try {
            for (const [deviceId, sent] of acked.sent) {
                if (deviceId === "leaf-1") continue
                const stored = emulator.service.telemetry(deviceId).map((m) => Number(m.body.toString().split(":")[1]))
                const ok = acked.telemetry.get(deviceId) ?? []
                assert.deepStrictEqual(stored.slice(0, ok.length), ok, `${deviceId}: every acknowledged message, once, in order`)
                assert.ok(stored.length <= sent.length && stored.every((n, i) => n === i + 1), `${deviceId}: nothing twice, nothing invented: ${stored}`)
            }
            for (const registrationId of acked.assigned) {
                assert.strictEqual(emulator.registration(registrationId)?.status, "assigned")
                const { client, code } = await hubConnect(mqttPort, ca, { deviceId: registrationId, key: sasDeriveDeviceKey(groupKey, registrationId) })
                assert.strictEqual(code, 0, `${registrationId} connects with its derived key`)
                client.close()
            }
            const queued = emulator.state.hub
                .device("quiet")!
                .c2d.undelivered()
                .map((m) => m.messageId)
            assert.deepStrictEqual(queued.slice(0, acked.c2d.length), acked.c2d, "every acknowledged C2D message is queued, once, in order")
            assert.ok(queued.length <= acked.c2d.length + 1)
            const desired = emulator.service.getTwin("quiet").properties.desired as { n: number; $version: number }
            assert.ok(desired.n >= acked.desired && desired.n <= acked.desired + 1 && desired.$version === desired.n + 1, JSON.stringify(desired))
            assert.strictEqual(emulator.service.getDevice("off").status, "disabled")
            const refused = await hubConnect(mqttPort, ca, { deviceId: "off", key: secrets["devices/off"].primaryKey })
            assert.strictEqual(refused.code, 5)
            assert.strictEqual(emulator.dps.getCaCertificate("crash-root").isVerified, true)
            // The edge kept its store through the crash; the uplink back up delivers it once, in order.
            emulator.service.setEdgeUplink(EDGE, true)
            const leafStored = emulator.service.telemetry("leaf-1").map((m) => Number(m.body.toString().split(":")[1]))
            const leafOk = acked.telemetry.get("leaf-1") ?? []
            assert.deepStrictEqual(leafStored.slice(0, leafOk.length), leafOk)
            assert.ok(leafStored.every((n, i) => n === i + 1) && leafStored.length <= acked.sent.get("leaf-1")!.length)
        } finally {
            await emulator.stop()
        }
    })
})
