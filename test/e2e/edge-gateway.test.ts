// A leaf device provisions with DPS, then lives on its hub through an IoT Edge transparent
// gateway whose chain leads to the edge root embedded in the image — including an uplink outage.
import * as assert from "assert"
import * as fs from "fs"
import { AZURE_ROOT_CAS } from "../../sim/paths"
import { individual } from "../emulator/fixtures"
import { randomKey, RunningEmulator, startTestEmulator, testGateway } from "../support/emulator"
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
        const { gateway, pki } = await testGateway("edge-gw-01")
        emu = await startTestEmulator({
            enrollments: [leaf, orphan],
            devices: [
                { deviceId: "edge-gw-01", primaryKey: randomKey() },
                { deviceId: "leaf-01", primaryKey: leaf.attestation.primaryKey, parent: "edge-gw-01" },
            ],
            edges: [gateway],
        })
        edgeRoot = fs.readFileSync(pki.rootCertFile, "utf8")
        emulatorRoot = emu.ca
        edgePort = emu.edgePorts[0]
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
        await until("leaf-01 connected through the gateway", () =>
            emu.events.some((e) => e.name === "hub.connect" && e.data.deviceId === "leaf-01" && e.data.via === "edge-gw-01")
        )
        const service = emu.emulator.service
        await until("telemetry at the hub", () => service.telemetry("leaf-01").length >= 2, 20000)
        const { version } = service.updateDesired("leaf-01", { telemetryInterval: 2 })
        const ack = await until("the desired interval acknowledged", () => {
            const r = (service.getTwin("leaf-01").properties as any).reported.telemetryInterval
            return r?.av === version ? r : undefined
        })
        assert.deepStrictEqual([ack.value, ack.ac], [2, 200])
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
        await until(
            "5 messages accepted by the gateway during the outage",
            () => d.device.consoleLines.filter((l) => l.startsWith("hub: telemetry #")).length >= acked + 5,
            15000
        )
        assert.strictEqual(service.telemetry("leaf-01").length, before, "nothing reached the hub while the uplink was down")
        service.setEdgeUplink("edge-gw-01", true)
        await until("the stored messages at the hub", () => service.telemetry("leaf-01").length >= before + 5, 20000)
        const seqs = service.telemetry("leaf-01").map((m) => JSON.parse(m.body.toString()).seq)
        assert.deepStrictEqual(
            seqs,
            seqs.map((_, i) => i + 1),
            `hub saw ${seqs.join(",")}`
        )
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
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "orphan-01" })
        const refused = await until("the gateway's refusal", () => emu.events.find((e) => e.name === "edge.refused" && e.data.deviceId === "orphan-01"))
        assert.match(refused.data.reason, /not a child of edge device edge-gw-01/)
    })
})
