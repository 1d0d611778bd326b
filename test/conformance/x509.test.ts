// Conformance: the official Node SDK with X.509 — azure-iot-security-x509 + the provisioning client,
// then azure-iot-device with `x509=true` — works against the emulator as against Azure: individual and
// group enrollments provision, the provisioned device opens a hub session with its certificate, and a
// certificate from an unknown CA is refused. Trust comes from NODE_EXTRA_CA_CERTS; checks stay on.
import * as assert from "assert"
import { CertifiedKey, createRootCa, issueClientCert } from "../../sim/pki"
import { ID_SCOPE, RunningEmulator, startTestEmulator, testPki } from "../support/emulator"
import { ClientCert } from "../support/raw-mqtt-client"
import { clientCert, pem } from "../emulator/x509-fixtures"
import { startSdkHub } from "./sdk-hub"
import { SdkOutcome, runSdkJob } from "./sdk-provision"

describe("conformance: official Node SDK with X.509 against the emulator", function () {
    this.timeout(60_000)
    let emu: RunningEmulator
    let outcomes: SdkOutcome[]
    let fleetDevice: ClientCert

    before(async () => {
        const root = await createRootCa({ commonName: "sdk fleet root" })
        const individualCert: CertifiedKey = await issueClientCert(undefined, { commonName: "sdk-x509-ind" })
        const fleetLeaf = await issueClientCert(root, { commonName: "sdk-x509-fleet-1" })
        const stranger = await issueClientCert(await createRootCa({ commonName: "sdk stranger root" }), { commonName: "sdk-x509-stranger" })
        emu = await startTestEmulator({
            enrollments: [
                { registrationId: "sdk-x509-ind", attestation: { type: "x509", certificate: pem(individualCert) } },
                { enrollmentGroupId: "sdk-x509-fleet", attestation: { type: "x509", caCertificate: "sdk-fleet-root" } },
            ],
            // Azure answers bad credentials with 401 at registration; the SDK names only that UnauthorizedError.
            dps: { authFailure: "register" },
            certificates: [{ name: "sdk-fleet-root", cert: pem(root), verified: true }],
        })
        fleetDevice = await clientCert(fleetLeaf)
        const provisioningHost = `localhost:${emu.mqttPort}`
        outcomes = await runSdkJob(
            {
                idScope: ID_SCOPE,
                devices: [
                    { provisioningHost, registrationId: "sdk-x509-ind", x509: await clientCert(individualCert) },
                    { provisioningHost, registrationId: "sdk-x509-fleet-1", x509: fleetDevice },
                    { provisioningHost, registrationId: "sdk-x509-stranger", x509: await clientCert(stranger) },
                ],
            },
            (await testPki()).rootCertFile
        )
    })
    after(() => emu?.stop())

    it("provisions an individual X.509 enrollment", () => {
        const o = outcomes[0]
        assert.ok(o.ok, JSON.stringify(o))
        assert.deepStrictEqual([o.assignedHub, o.deviceId, o.status], ["localhost", "sdk-x509-ind", "assigned"])
        assert.ok(emu.events.some((e) => e.name === "dps.connect" && e.data.attestation === "x509" && e.data.commonName === "sdk-x509-ind"))
    })

    it("provisions a device of an X.509 group with a verified root", () => {
        const o = outcomes[1]
        assert.ok(o.ok, JSON.stringify(o))
        assert.deepStrictEqual([o.assignedHub, o.deviceId], ["localhost", "sdk-x509-fleet-1"])
        assert.strictEqual(emu.emulator.registration("sdk-x509-fleet-1")?.enrollmentGroupId, "sdk-x509-fleet")
    })

    it("reports a certificate from an unknown CA as UnauthorizedError", () => {
        const o = outcomes[2]
        assert.strictEqual(o.ok, false)
        if (o.ok) return
        assert.deepStrictEqual([o.errorName, o.errorClass], ["UnauthorizedError", "UnauthorizedError"])
        assert.ok(emu.events.some((e) => e.name === "dps.refused" && e.data.clientId === "sdk-x509-stranger" && /enrolled/.test(e.data.reason)))
    })

    it("the provisioned device holds a hub session with x509=true: telemetry, twin, reported properties", async () => {
        const connectionString = `HostName=localhost:${emu.mqttPort};DeviceId=sdk-x509-fleet-1;x509=true`
        const sdk = startSdkHub({ connectionString, x509: fleetDevice }, (await testPki()).rootCertFile)
        try {
            assert.deepStrictEqual(await sdk.next("open"), { step: "open", ok: true })
            await sdk.next("sendEvent")
            assert.deepStrictEqual(JSON.parse(emu.emulator.service.telemetry("sdk-x509-fleet-1")[0].body.toString()), { temperature: 21.5 })
            await sdk.next("reported")
            assert.strictEqual((emu.emulator.service.getTwin("sdk-x509-fleet-1").properties.reported as { firmware?: string }).firmware, "sdk")
            const connect = emu.events.find((e) => e.name === "hub.connect" && e.data.deviceId === "sdk-x509-fleet-1")!.data
            assert.strictEqual(connect.authenticationType, "certificateAuthority")
        } finally {
            sdk.child.stdin!.end()
            await sdk.done
        }
    })
})
