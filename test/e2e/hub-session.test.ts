// The built firmware lives on its hub, end to end: telemetry, twin, desired updates, direct methods,
// C2D, a hub-side disconnect, token renewal, reboot with a stored assignment, revocation.
import * as assert from "assert"
import * as path from "path"
import { individual } from "../emulator/fixtures"
import { RunningEmulator, startTestEmulator, tempDir } from "../support/emulator"
import { HubServiceError } from "../../sim/emulator"
import { BootedDevice, bootDevice, until } from "./harness"

function seqs(emu: RunningEmulator, deviceId: string): number[] {
    return emu.emulator.service.telemetry(deviceId).map((m) => JSON.parse(m.body.toString()).seq)
}

function dpsConnects(emu: RunningEmulator, regId: string): number {
    return emu.events.filter((e) => e.name === "dps.connect" && e.data.registrationId === regId).length
}

function assignments(emu: RunningEmulator, regId: string): number {
    return emu.events.filter((e) => e.name === "dps.assigned" && e.data.registrationId === regId).length
}

/** Resolves once DPS has assigned the registration more than `before` times. */
function assignedAgain(emu: RunningEmulator, regId: string, before: number): Promise<true> {
    return until(`${regId} assigned by DPS`, () => assignments(emu, regId) > before || undefined)
}

function hubConnects(emu: RunningEmulator, deviceId: string): number {
    return emu.events.filter((e) => e.name === "hub.connect" && e.data.deviceId === deviceId).length
}

/** Resolves once the hub has seen more than `before` connections of the device. */
function connectedAgain(emu: RunningEmulator, deviceId: string, before: number, timeoutMs?: number): Promise<true> {
    return until(`${deviceId} connected to the hub`, () => hubConnects(emu, deviceId) > before || undefined, timeoutMs)
}

describe("firmware hub session end to end", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    let d: BootedDevice
    const dev = individual("hub-e2e")
    const renew = individual("hub-renew")

    before(async () => {
        emu = await startTestEmulator({ enrollments: [dev, renew] })
        d = await bootDevice(emu, { REG_ID: "hub-e2e", DEVICE_KEY: dev.attestation.primaryKey, INTERVAL: 1 })
        await connectedAgain(emu, "hub-e2e", 0, 20000)
    })
    after(async () => {
        await d?.stop()
        await emu?.stop()
    })

    it("sends telemetry as JSON with content type and encoding, each acknowledged", async () => {
        await until("3 messages at the hub", () => emu.emulator.service.telemetry("hub-e2e").length >= 3 || undefined)
        const m = emu.emulator.service.telemetry("hub-e2e")[0]
        assert.strictEqual(m.systemProperties.contentType ?? m.systemProperties["$.ct"], "application/json")
        assert.strictEqual(m.systemProperties.contentEncoding ?? m.systemProperties["$.ce"], "utf-8")
        const body = JSON.parse(m.body.toString())
        assert.strictEqual(typeof body.temperature, "number")
        assert.strictEqual(typeof body.humidity, "number")
        await d.line(/^hub: telemetry #1 acknowledged/)
    })

    it("reports its firmware version and interval in the twin", async () => {
        const twin = await until("reported firmwareVersion", () => {
            const t = emu.emulator.service.getTwin("hub-e2e").properties as any
            return t.reported.firmwareVersion ? t : undefined
        })
        assert.match(twin.reported.firmwareVersion, /^\d+\.\d+\.\d+$/)
        assert.strictEqual(twin.reported.telemetryIntervalActive, 1)
    })

    it("applies a desired interval and acknowledges it in reported properties", async () => {
        const { version } = emu.emulator.service.updateDesired("hub-e2e", { telemetryInterval: 2 })
        const ack = await until("the ack", () => {
            const r = (emu.emulator.service.getTwin("hub-e2e").properties as any).reported.telemetryInterval
            return r && r.av === version ? r : undefined
        })
        assert.deepStrictEqual(ack, { value: 2, ac: 200, av: version, ad: "applied" })
    })

    it("refuses an invalid desired interval with ac 400, keeping the old one", async () => {
        // Whatever interval is active (tests may run alone or in any order) is the one kept.
        const state = await emu.emulator.service.invokeMethod("hub-e2e", "getDeviceState", null, 10)
        const active = (state.payload as any).telemetryInterval
        const { version } = emu.emulator.service.updateDesired("hub-e2e", { telemetryInterval: 0 })
        const ack = await until("the refusal", () => {
            const r = (emu.emulator.service.getTwin("hub-e2e").properties as any).reported.telemetryInterval
            return r && r.av === version ? r : undefined
        })
        assert.strictEqual(ack.ac, 400)
        assert.strictEqual(ack.value, active)
    })

    it("answers direct methods: one changes behaviour, one reports state, unknown is 404", async () => {
        await until("3 messages at the hub", () => emu.emulator.service.telemetry("hub-e2e").length >= 3 || undefined)
        const before = await emu.emulator.service.invokeMethod("hub-e2e", "getDeviceState", null, 10)
        const current = (before.payload as any).telemetryInterval as number
        const target = current === 2 ? 1 : 2
        const set = await emu.emulator.service.invokeMethod("hub-e2e", "setTelemetryInterval", { seconds: target }, 10)
        assert.deepStrictEqual(set, { status: 200, payload: { telemetryInterval: target } })
        const state = await emu.emulator.service.invokeMethod("hub-e2e", "getDeviceState", null, 10)
        assert.strictEqual(state.status, 200)
        assert.strictEqual((state.payload as any).telemetryInterval, target)
        assert.ok((state.payload as any).messagesSent >= 3)
        // Back to the 1 s the other tests' waits assume.
        if (target !== 1) await emu.emulator.service.invokeMethod("hub-e2e", "setTelemetryInterval", { seconds: 1 }, 10)
        const unknown = await emu.emulator.service.invokeMethod("hub-e2e", "selfDestruct", {}, 10)
        assert.deepStrictEqual(unknown, { status: 404, payload: { error: "unknown method: selfDestruct" } })
    })

    it("receives C2D messages with their properties and completes them", async () => {
        const id = emu.emulator.service.sendC2d("hub-e2e", "hello device", { properties: { color: "blue" } })
        await d.line(/^hub: c2d message .*color=blue body hello device/)
        await until("completion", () => emu.events.some((e) => e.name === "hub.c2d.completed" && e.data.messageId === id) || undefined)
        assert.strictEqual(emu.emulator.service.getDevice("hub-e2e").cloudToDeviceMessageCount, 0)
    })

    it("reconnects after a hub-side disconnect and delivers queued telemetry exactly once, in order", async () => {
        const before = seqs(emu, "hub-e2e").length
        const connects = hubConnects(emu, "hub-e2e")
        emu.emulator.hub.disconnect("hub-e2e", "test: hub-side disconnect")
        await connectedAgain(emu, "hub-e2e", connects, 20000)
        await until("reconnected and more telemetry", () => seqs(emu, "hub-e2e").length >= before + 4 || undefined, 20000)
        const s = seqs(emu, "hub-e2e")
        assert.deepStrictEqual(
            s,
            s.map((_, i) => i + 1),
            `hub saw ${s.join(",")}`
        )
    })

    it("reboots with the stored assignment: straight to the hub, no DPS traffic", async () => {
        const dpsBefore = dpsConnects(emu, "hub-e2e")
        const connects = hubConnects(emu, "hub-e2e")
        await d.device.reboot()
        await connectedAgain(emu, "hub-e2e", connects)
        assert.strictEqual(dpsConnects(emu, "hub-e2e"), dpsBefore)
    })

    it("provisions again when the hub no longer knows the device", async () => {
        const dpsBefore = dpsConnects(emu, "hub-e2e")
        const connects = hubConnects(emu, "hub-e2e")
        emu.emulator.service.deleteDevice("hub-e2e")
        await connectedAgain(emu, "hub-e2e", connects, 30000)
        assert.ok(dpsConnects(emu, "hub-e2e") > dpsBefore)
        assert.strictEqual(emu.emulator.service.getDevice("hub-e2e").connectionState, "Connected")
    })

    it("a damaged stored assignment leads to provisioning, not a boot loop", async () => {
        const [assigned, connects] = [assignments(emu, "hub-renew"), hubConnects(emu, "hub-renew")]
        const r = await bootDevice(emu, {
            REG_ID: "hub-renew",
            DEVICE_KEY: renew.attestation.primaryKey,
            ASG_HUB: "not a host",
            ASG_DEVICE: "hub-renew",
            ASG_OWNER: "x",
        })
        try {
            await r.line(/^store: stored assignment unusable, provisioning again/)
            await assignedAgain(emu, "hub-renew", assigned)
            await connectedAgain(emu, "hub-renew", connects)
        } finally {
            await r.stop()
        }
    })

    it("an assignment stored for another ID scope is not reused: DPS runs", async () => {
        // Plausible in every value, but owned by the same registration id under another scope.
        const assigned = assignments(emu, "hub-renew")
        const r = await bootDevice(emu, {
            REG_ID: "hub-renew",
            DEVICE_KEY: renew.attestation.primaryKey,
            ASG_HUB: "localhost",
            ASG_DEVICE: "hub-renew",
            ASG_OWNER: "0ne0000FFFF/hub-renew",
        })
        try {
            await r.line(/^store: stored assignment unusable, provisioning again/)
            await assignedAgain(emu, "hub-renew", assigned)
        } finally {
            await r.stop()
        }
    })

    it("REPROVISION=1 runs DPS even with a stored assignment", async () => {
        const flash = path.join(tempDir("reprovision"), "flash.bin")
        const firstConnects = hubConnects(emu, "hub-renew")
        const first = await bootDevice(emu, { REG_ID: "hub-renew", DEVICE_KEY: renew.attestation.primaryKey }, { flashFile: flash })
        await connectedAgain(emu, "hub-renew", firstConnects)
        // Kept in the background while the hub session starts; a power cut before this line means DPS again.
        await first.line(/^store: assignment kept/)
        await first.stop()
        // The stored assignment: straight to the hub, no DPS connection.
        const [dpsBefore, connects] = [dpsConnects(emu, "hub-renew"), hubConnects(emu, "hub-renew")]
        const stored = await bootDevice(emu, { REG_ID: "hub-renew", DEVICE_KEY: renew.attestation.primaryKey }, { flashFile: flash })
        await connectedAgain(emu, "hub-renew", connects)
        assert.strictEqual(dpsConnects(emu, "hub-renew"), dpsBefore)
        await stored.stop()
        const assigned = assignments(emu, "hub-renew")
        const again = await bootDevice(emu, { REG_ID: "hub-renew", DEVICE_KEY: renew.attestation.primaryKey, REPROVISION: 1 }, { flashFile: flash })
        try {
            await assignedAgain(emu, "hub-renew", assigned)
        } finally {
            await again.stop()
        }
    })

    it("renews its SAS token by reconnecting before it expires", async () => {
        const connects = hubConnects(emu, "hub-renew")
        // Only this boot's messages: earlier tests' boots of hub-renew may have sent some of their own.
        const earlier = seqs(emu, "hub-renew").length
        const r = await bootDevice(emu, { REG_ID: "hub-renew", DEVICE_KEY: renew.attestation.primaryKey, SAS_TTL: 5, INTERVAL: 1 })
        try {
            await connectedAgain(emu, "hub-renew", connects, 20000)
            await r.line(/^hub: renewing SAS token/, 10000)
            await connectedAgain(emu, "hub-renew", connects + 1)
            const s = seqs(emu, "hub-renew").slice(earlier)
            assert.deepStrictEqual(
                s,
                s.map((_, i) => i + 1)
            )
        } finally {
            await r.stop()
        }
    })

    it("an offline device gets 404 for a method call", async () => {
        await d.stop()
        await until("disconnected", () => emu.emulator.service.getDevice("hub-e2e").connectionState === "Disconnected" || undefined)
        await assert.rejects(emu.emulator.service.invokeMethod("hub-e2e", "getDeviceState", null, 5), (e: HubServiceError) => /not online/.test(e.message))
    })
})
