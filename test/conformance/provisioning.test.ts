// Conformance: the official Azure IoT Node SDK provisions against the emulator as it would
// against Azure DPS — individual and group enrollments, a custom payload — and a wrong key ends in
// UnauthorizedError. Trust comes from NODE_EXTRA_CA_CERTS; certificate checks stay on.
import * as assert from "assert"
import { sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { group, individual } from "../emulator/fixtures"
import { ID_SCOPE, randomKey, RunningEmulator, startTestEmulator, testPki } from "../support/emulator"
import { SdkJob, SdkOutcome, runSdkJob as runSdk } from "./sdk-provision"

describe("conformance: official Node SDK against the emulator", function () {
    this.timeout(60_000)
    // Azure DPS accepts the CONNECT and answers the register with 401; the SDK maps only that to
    // UnauthorizedError. The strict mode (CONNACK 5) reaches the SDK as a plain connection error.
    let azureLike: RunningEmulator
    let strict: RunningEmulator
    let outcomes: SdkOutcome[]
    const dev = individual("sdk-dev-01")
    const grp = group("sdk-fleet")

    before(async () => {
        azureLike = await startTestEmulator({ enrollments: [dev, grp], dps: { authFailure: "register" } })
        strict = await startTestEmulator({ enrollments: [dev], dps: { authFailure: "connack" } })
        const host = (e: RunningEmulator) => `localhost:${e.mqttPort}`
        const job: SdkJob = {
            idScope: ID_SCOPE,
            devices: [
                {
                    provisioningHost: host(azureLike),
                    registrationId: "sdk-dev-01",
                    key: dev.attestation.primaryKey,
                    payload: { modelId: "dtmi:com:example:Thermostat;1" },
                },
                { provisioningHost: host(azureLike), registrationId: "sdk-fleet-7", key: sasDeriveDeviceKey(grp.attestation.primaryKey, "sdk-fleet-7") },
                { provisioningHost: host(azureLike), registrationId: "sdk-dev-01", key: randomKey() },
                { provisioningHost: host(strict), registrationId: "sdk-dev-01", key: randomKey() },
            ],
        }
        outcomes = await runSdk(job, (await testPki()).rootCertFile)
    })
    after(async () => {
        await azureLike?.stop()
        await strict?.stop()
    })

    it("provisions an individual enrollment with a custom payload, which DPS keeps and does not echo", () => {
        const { elapsedMs, ...outcome } = outcomes[0] as SdkOutcome & { elapsedMs?: number }
        // The SDK run measured its own registration: present, and within the test's bound.
        assert.ok(Number.isFinite(elapsedMs) && elapsedMs! > 0 && elapsedMs! < 30_000, `elapsedMs ${elapsedMs}`)
        assert.deepStrictEqual(outcome, {
            registrationId: "sdk-dev-01",
            ok: true,
            assignedHub: "localhost",
            deviceId: "sdk-dev-01",
            status: "assigned",
        })
        assert.deepStrictEqual(azureLike.emulator.registration("sdk-dev-01")?.payload, { modelId: "dtmi:com:example:Thermostat;1" })
    })

    it("provisions a group device with its derived key", () => {
        const o = outcomes[1]
        assert.ok(o.ok, JSON.stringify(o))
        assert.deepStrictEqual([o.assignedHub, o.deviceId, o.status], ["localhost", "sdk-fleet-7", "assigned"])
    })

    it("reports a wrong key as UnauthorizedError (401 at registration, as Azure DPS answers)", () => {
        const o = outcomes[2]
        assert.ok(!o.ok, JSON.stringify(o))
        assert.deepStrictEqual([o.errorName, o.errorClass], ["UnauthorizedError", "UnauthorizedError"])
    })

    it("reports a wrong key refused with CONNACK 5 as a refused connection", () => {
        const o = outcomes[3]
        assert.ok(!o.ok, JSON.stringify(o))
        assert.match(o.message, /Not authorized/)
    })

    it("saw the SDK's dialect: api-version 2019-03-31, a polled assignment, and the refusals", () => {
        const connects = azureLike.events.filter((e) => e.name === "dps.connect").map((e) => e.data)
        assert.ok(connects.length >= 2 && connects.every((c) => c.apiVersion === "2019-03-31"))
        const assigned = azureLike.events.filter((e) => e.name === "dps.assigned").map((e) => e.data.registrationId)
        assert.deepStrictEqual(assigned, ["sdk-dev-01", "sdk-fleet-7"])
        assert.ok(azureLike.events.some((e) => e.name === "dps.rejected" && e.data.errorCode === 401002))
        assert.ok(strict.events.some((e) => e.name === "dps.refused" && e.data.answer === "CONNACK 5"))
    })
})
