// A leaf device provisions with DPS, then lives on its hub through an IoT Edge transparent
// gateway whose chain leads to the edge root embedded in the image — including an uplink outage.
import * as assert from "assert"
import * as fs from "fs"
import { Emulator, validateConfig } from "../../sim/emulator"
import { writeEdgePki } from "../../sim/pki"
import { AZURE_ROOT_CAS } from "../../sim/paths"
import { ID_SCOPE, RunningEmulator, individual, randomKey, tempDir, testPki } from "../emulator/fixtures"
import { BootedDevice, bootDevice, provisioningOutcome, until } from "./harness"


describe("firmware through an IoT Edge gateway end to end", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    let edgePort: number
    let edgeRoot: string
    let emulatorRoot: string
    const devices: BootedDevice[] = []
    const leaf = individual("leaf-01")
    const orphan = individual("orphan-01")

    before(async () => {
        const pki = await testPki()
        const edge = await writeEdgePki(tempDir("edge-pki"), "localhost")
        edgeRoot = fs.readFileSync(edge.rootCertFile, "utf8")
        emulatorRoot = fs.readFileSync(pki.rootCertFile, "utf8")
        const config = validateConfig({
            bind: "127.0.0.1",
            ports: { mqtt: 0, https: 0, service: 0, edge: 0 },
            tls: { cert: pki.serverCertFile, key: pki.serverKeyFile, ca: pki.rootCertFile },
            dps: { idScope: ID_SCOPE, retryAfter: 0 },
            hubs: [{ hostName: "localhost" }],
            enrollments: [leaf, orphan],
            devices: [
                { deviceId: "edge-gw-01", primaryKey: randomKey() },
                { deviceId: "leaf-01", primaryKey: leaf.attestation.primaryKey, parent: "edge-gw-01" },
            ],
            edges: [{ deviceId: "edge-gw-01", hostName: "localhost", tls: { cert: edge.serverCertFile, key: edge.serverKeyFile } }],
        })
        const emulator = new Emulator(config)
        const events: RunningEmulator["events"] = []
        emulator.on("event", (name, data) => events.push({ name, data }))
        const ports = await emulator.start()
        edgePort = (ports as { edgePorts?: number[] }).edgePorts?.[0] ?? emulator.edgePort("edge-gw-01")
        emu = { emulator, mqttPort: ports.mqttPort, httpsPort: ports.httpsPort, ca: emulatorRoot, events, stop: () => emulator.stop() }
    })
    after(async () => {
        for (const d of devices) await d.stop()
        await emu?.stop()
    })

    /** The image a leaf would carry: Azure's public roots, the edge root, and the emulator's root for DPS. */
    async function bootLeaf(regId: string, key: string, gateway: string, trust?: string[]) {
        const fwTrust = trust ?? [emulatorRoot, edgeRoot, ...AZURE_ROOT_CAS.map((f) => fs.readFileSync(f, "utf8"))]
        const d = await bootDevice(emu, { REG_ID: regId, DEVICE_KEY: key, GATEWAY_HOST: gateway, INTERVAL: 1 }, { trustAnchors: fwTrust })
        devices.push(d)
        return d
    }

    it("provisions with DPS, then telemetry, twin, a method and C2D work through the gateway", async () => {
        const d = await bootLeaf("leaf-01", leaf.attestation.primaryKey, `localhost:${edgePort}`)
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "leaf-01" })
        await d.line(new RegExp(`^hub: connecting to gateway localhost:${edgePort} as leaf-01`))
        await d.line(/^hub: connected/)
        const service = emu.emulator.service
        await until("telemetry at the hub", () => service.telemetry("leaf-01").length >= 2, 20000)
        const { version } = service.updateDesired("leaf-01", { telemetryInterval: 2 })
        await d.line(new RegExp(`^app: desired version ${version} applied`))
        const state = await service.invokeMethod("leaf-01", "getDeviceState", null, 10)
        assert.strictEqual(state.status, 200)
        service.sendC2d("leaf-01", "via the edge")
        await d.line(/^hub: c2d message .*body via the edge/)
    })

    it("uplink outage: telemetry sent meanwhile reaches the hub afterwards, in order, exactly once", async () => {
        const service = emu.emulator.service
        await service.invokeMethod("leaf-01", "setTelemetryInterval", { seconds: 1 }, 10)
        service.setEdgeUplink("edge-gw-01", false)
        const before = service.telemetry("leaf-01").length
        const d = devices[0]
        const acked = d.device.consoleLines.filter((l) => l.startsWith("hub: telemetry #")).length
        await until("5 messages accepted by the gateway during the outage", () =>
            d.device.consoleLines.filter((l) => l.startsWith("hub: telemetry #")).length >= acked + 5, 15000)
        assert.strictEqual(service.telemetry("leaf-01").length, before, "nothing reached the hub while the uplink was down")
        service.setEdgeUplink("edge-gw-01", true)
        await until("the stored messages at the hub", () => service.telemetry("leaf-01").length >= before + 5, 20000)
        const seqs = service.telemetry("leaf-01").map((m) => JSON.parse(m.body.toString()).seq)
        assert.deepStrictEqual(seqs, seqs.map((_, i) => i + 1), `hub saw ${seqs.join(",")}`)
    })

    it("refuses a gateway whose chain does not lead to an embedded root", async () => {
        const d = await bootLeaf("leaf-01", leaf.attestation.primaryKey, `localhost:${edgePort}`, [emulatorRoot])
        await d.line(/^hub: connection lost \(.*certificate not trusted by the image/)
    })

    it("refuses a gateway whose certificate does not name the host connected to", async () => {
        const d = await bootLeaf("leaf-01", leaf.attestation.primaryKey, `127.0.0.1:${edgePort}`)
        await d.line(/^hub: connection lost \(.*hostname mismatch/)
    })

    it("a leaf that is not a child of the edge device is refused", async () => {
        const d = await bootLeaf("orphan-01", orphan.attestation.primaryKey, `localhost:${edgePort}`)
        await d.line(/^dps: assigned to localhost as orphan-01/)
        await d.line(/^hub: refused orphan-01: .*CONNACK 5/)
    })
})
