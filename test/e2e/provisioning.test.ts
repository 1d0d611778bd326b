// The built firmware provisions itself in the simulator against the emulator, over real TLS.
import * as assert from "assert"
import { individual, group } from "../emulator/fixtures"
import { randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { BootedDevice, bootDevice, provisioningOutcome, until } from "./harness"
import { certToPem, createRootCa } from "../../sim/pki"

async function unrelatedRootCa(): Promise<string> {
    return certToPem((await createRootCa({ commonName: "Some Other Root" })).cert)
}

describe("firmware provisioning end to end", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    const devices: BootedDevice[] = []
    const ind = individual("e2e-ind")
    const grp = group("e2e-group")
    const wrong = individual("e2e-wrong")
    const throttled = individual("e2e-throttled", { faults: { throttle: 1 } })
    const unavailable = individual("e2e-503", { faults: { serverError: 1, serverErrorStatus: 503 } })
    const failing = individual("e2e-failed", { faults: { failAllocation: { errorCode: 400209, errorMessage: "no hub can take this device" } } })
    const disabled = individual("e2e-disabled", { enabled: false })

    before(async () => {
        emu = await startTestEmulator({ enrollments: [ind, grp, wrong, throttled, unavailable, failing, disabled] })
    })
    after(async () => {
        for (const d of devices) await d.stop()
        await emu?.stop()
    })

    async function boot(regId: string, key: { DEVICE_KEY?: string; GROUP_KEY?: string }, extra: object = {}) {
        const d = await bootDevice(emu, { REG_ID: regId, ...key, ...extra })
        devices.push(d)
        return d
    }

    it("individual enrollment: assigned, with the model id in the registration payload", async () => {
        const d = await boot("e2e-ind", { DEVICE_KEY: ind.attestation.primaryKey }, { MODEL_ID: "dtmi:com:example:Thermostat;1" })
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-ind" })
        assert.deepStrictEqual(emu.emulator.registration("e2e-ind")?.payload, { modelId: "dtmi:com:example:Thermostat;1" })
        // The real DPS cadence: 202 on register, 202 on the first poll, then 200.
        assert.match(d.device.consoleLines.join("\n"), /dps: assigning, polling again in 0 ms[\s\S]*dps: assigning, polling again/)
    })

    it("group enrollment: the device derives its key from the group key", async () => {
        const d = await boot("e2e-group-dev-7", { GROUP_KEY: grp.attestation.primaryKey })
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-group-dev-7" })
        assert.strictEqual(emu.emulator.registration("e2e-group-dev-7")?.enrollmentGroupId, "e2e-group")
    })

    it("a wrong key is a refusal named in one line; the device waits and asks again, never stops", async () => {
        const d = await boot("e2e-wrong", { DEVICE_KEY: randomKey() }, { REFUSED_RETRY: 1 })
        const o = await provisioningOutcome(d)
        assert.match(o.refused ?? "", /DPS refused the credentials of e2e-wrong: .*not authorized \(CONNACK 5\)/)
        // Asked again after REFUSED_RETRY (scaled 0.5..1), then after twice that.
        await d.line(/^dps: DPS refused .*; asking again in [\d.]+ s$/)
        const again = await until("a second refusal", () => d.device.consoleLines.filter((l) => /; asking again in /.test(l)).length >= 2 || undefined, 10000)
        assert.ok(again)
        assert.strictEqual(emu.emulator.registration("e2e-wrong")?.status === "assigned", false)
    })

    it("429 then success: waits and retries the same request", async () => {
        const d = await boot("e2e-throttled", { DEVICE_KEY: throttled.attestation.primaryKey })
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-throttled" })
        assert.match(d.device.consoleLines.join("\n"), /dps: throttled \(429 429001[^)]*\), retrying in/)
    })

    it("503 then success", async () => {
        const d = await boot("e2e-503", { DEVICE_KEY: unavailable.attestation.primaryKey })
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-503" })
        assert.match(d.device.consoleLines.join("\n"), /dps: server error \(503/)
    })

    it("a failed allocation is a refusal with DPS's errorCode and message", async () => {
        const d = await boot("e2e-failed", { DEVICE_KEY: failing.attestation.primaryKey })
        assert.deepStrictEqual(await provisioningOutcome(d), { refused: "allocation failed: 400209 no hub can take this device" })
    })

    it("a disabled enrollment is a refusal that says so", async () => {
        const d = await boot("e2e-disabled", { DEVICE_KEY: disabled.attestation.primaryKey })
        assert.deepStrictEqual(await provisioningOutcome(d), { refused: "enrollment is disabled" })
    })

    it("an endpoint whose certificate does not chain to an image trust anchor is refused with the TLS reason, and retried", async () => {
        const d = await bootDevice(emu, { REG_ID: "e2e-ind", DEVICE_KEY: ind.attestation.primaryKey }, { trustAnchors: [await unrelatedRootCa()] })
        devices.push(d)
        // The clock's HTTPS endpoint is the first TLS peer; the device keeps trying it, with backoff.
        await d.line(/^clock: .*certificate not trusted by the image.*; retrying in [\d.]+ m?s$/)
        await d.line(/^clock: .*certificate not trusted by the image.*; retrying in/)
        assert.ok(!d.device.consoleLines.some((l) => l.startsWith("dps: assigned")))
    })
})
