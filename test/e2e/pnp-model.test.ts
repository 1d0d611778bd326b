// The IoT Plug and Play model the device announces describes exactly what it does: the simulated
// MXChip-like board (real drivers on the sensor models) talks to the emulator, and every payload it
// sent and answered is held against the model, and every element of the model against the payloads;
// and its status light on the way.
import * as assert from "assert"
import * as fs from "fs"
import { buildFirmware } from "../../sim/host/build"
import { readEnvSettings } from "../../sim/host/image"
import { ENV_DEFAULTS, SIMULATED_BOARDS } from "../../sim/paths"
import { individual } from "../emulator/fixtures"
import { RunningEmulator, startTestEmulator } from "../support/emulator"
import { BootedDevice, bootDevice, until } from "./harness"
import { PnpModel, loadPnpModel, reportedProblems, schemaProblems, telemetryProblems } from "./pnp-model"

describe("IoT Plug and Play model against the device", function () {
    this.timeout(60000)
    let model: PnpModel
    let emu: RunningEmulator
    let d: BootedDevice
    const dev = individual("pnp-board")
    const bodies = () => emu.emulator.service.telemetry("pnp-board").map((m) => JSON.parse(m.body.toString()))

    before(async () => {
        model = await loadPnpModel()
        const board = SIMULATED_BOARDS.mxchip_s3
        const { outFile } = await buildFirmware(board.entry, board.image)
        emu = await startTestEmulator({ enrollments: [dev] })
        d = await bootDevice(
            emu,
            { REG_ID: "pnp-board", DEVICE_KEY: dev.attestation.primaryKey, INTERVAL: 1, MODEL_ID: String(readEnvSettings([ENV_DEFAULTS]).MODEL_ID) },
            { bytecode: fs.readFileSync(outFile) }
        )
        await d.line(/^hub: connected/, 20000)
    })
    after(async () => {
        await d?.stop()
        await emu?.stop()
    })

    it("is valid DTDL v2 and is the model the device announces to DPS and the hub", () => {
        assert.strictEqual(readEnvSettings([ENV_DEFAULTS]).MODEL_ID, model.id)
        assert.deepStrictEqual(emu.emulator.registration("pnp-board")?.payload, { modelId: model.id })
        const connect = emu.events.find((e) => e.name === "hub.connect" && e.data.deviceId === "pnp-board")
        assert.strictEqual(connect?.data.modelId, model.id)
    })

    it("telemetry: every message conforms, and every Telemetry of the model is sent", async () => {
        // Button A is pressed 5 s after the board boots (sim/sensor-models/mxchip-board.ts).
        await until(
            "a reading with pressure and button A's message",
            () => {
                const b = bodies()
                return b.some((m) => m.pressure !== undefined) && b.some((m) => m.button !== undefined)
            },
            20000
        )
        const all = bodies()
        assert.deepStrictEqual(
            all.flatMap((b) => telemetryProblems(model, b)),
            []
        )
        const sent = new Set(all.flatMap((b) => Object.keys(b)))
        const declared = Object.values(model.contents)
            .filter((c) => c.entityKind === "telemetry")
            .map((c) => c.name)
        assert.deepStrictEqual(
            declared.filter((n) => !sent.has(n)),
            [],
            "Telemetry in the model the device never sends"
        )
    })

    it("properties: reported values and acknowledgements conform, and every Property is reported", async () => {
        const service = emu.emulator.service
        const { version } = service.updateDesired("pnp-board", { telemetryInterval: 3 })
        const reported = await until("the acknowledgement", () => {
            const r = service.getTwin("pnp-board").properties.reported as Record<string, any>
            return r.telemetryInterval?.av === version && r.firmwareVersion !== undefined ? r : undefined
        })
        assert.deepStrictEqual(reportedProblems(model, reported), [])
        const declared = Object.values(model.contents)
            .filter((c) => c.entityKind === "property")
            .map((c) => c.name)
        assert.deepStrictEqual(
            declared.filter((n) => !(n in reported)),
            [],
            "Property in the model the device never reports"
        )
        const refused = service.updateDesired("pnp-board", { telemetryInterval: 0 })
        const nack = await until("the refusal", () => {
            const r = service.getTwin("pnp-board").properties.reported as Record<string, any>
            return r.telemetryInterval?.av === refused.version ? r : undefined
        })
        assert.strictEqual(nack.telemetryInterval.ac, 400)
        assert.deepStrictEqual(reportedProblems(model, nack), [])
    })

    it("commands: requests and responses conform, and every Command is answered", async () => {
        const commands = Object.values(model.contents).filter((c) => c.entityKind === "command")
        const requests: Record<string, unknown> = { setTelemetryInterval: { seconds: 2 }, getDeviceState: null }
        assert.deepStrictEqual(commands.map((c) => c.name).sort(), Object.keys(requests).sort(), "the commands the firmware implements")
        for (const c of commands) {
            const request = requests[c.name]
            if (c.request) assert.deepStrictEqual(schemaProblems(c.request.schema, request, `${c.name} request`), [])
            const r = await emu.emulator.service.invokeMethod("pnp-board", c.name, request, 10)
            assert.strictEqual(r.status, 200, `${c.name}: ${JSON.stringify(r.payload)}`)
            assert.deepStrictEqual(schemaProblems(c.response!.schema, r.payload, `${c.name} response`), [])
        }
    })

    it("the status light follows the device: provisioning, connected, offline, connected", async () => {
        emu.emulator.hub.disconnect("pnp-board", "test: hub-side disconnect")
        await until("connected again", () => d.device.consoleLines.filter((l) => l === "status: connected").length >= 2 || undefined)
        const states = d.device.consoleLines.filter((l) => l.startsWith("status: "))
        assert.deepStrictEqual(states, ["status: provisioning", "status: connected", "status: offline", "status: connected"])
    })
})
