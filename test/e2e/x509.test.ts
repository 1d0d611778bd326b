// X.509 attestation end to end: the firmware in the simulator, its image carrying a device
// certificate chain and key, provisions through DPS (individual, group with a verified root,
// group with an intermediate) and then holds a hub session with the same certificate.
import * as assert from "assert"
import { CertifiedKey, certToPem, createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki"
import { RunningEmulator, startTestEmulator } from "../support/emulator"
import { clientCert, expired } from "../emulator/x509-fixtures"
import { BootedDevice, bootDevice, provisioningOutcome, until } from "./harness"

describe("firmware X.509 attestation end to end", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    const devices: BootedDevice[] = []
    let verifiedRoot: CertifiedKey
    let unverifiedRoot: CertifiedKey
    let intermediate: CertifiedKey
    let strangerRoot: CertifiedKey
    let selfSigned: CertifiedKey
    let disabledDevice: CertifiedKey

    before(async () => {
        verifiedRoot = await createRootCa({ commonName: "e2e fleet root" })
        unverifiedRoot = await createRootCa({ commonName: "e2e unproven root" })
        const intermediateRoot = await createRootCa({ commonName: "e2e partner root" })
        intermediate = await issueIntermediateCa(intermediateRoot, { commonName: "e2e partner intermediate" })
        strangerRoot = await createRootCa({ commonName: "e2e stranger root" })
        selfSigned = await issueClientCert(undefined, { commonName: "e2e-x509-ind" })
        disabledDevice = await issueClientCert(undefined, { commonName: "e2e-x509-disabled" })
        emu = await startTestEmulator({
            enrollments: [
                { registrationId: "e2e-x509-ind", attestation: { type: "x509", certificate: certToPem(selfSigned.cert) } },
                { registrationId: "e2e-x509-disabled", attestation: { type: "x509", certificate: certToPem(disabledDevice.cert) }, enabled: false },
                { enrollmentGroupId: "e2e-x509-fleet", attestation: { type: "x509", caCertificate: "fleet-root" } },
                { enrollmentGroupId: "e2e-x509-unproven", attestation: { type: "x509", caCertificate: "unproven-root" } },
                { enrollmentGroupId: "e2e-x509-late", attestation: { type: "x509", caCertificate: "late-root" } },
                { enrollmentGroupId: "e2e-x509-partner", attestation: { type: "x509", certificate: certToPem(intermediate.cert) } },
            ],
            certificates: [
                { name: "fleet-root", cert: certToPem(verifiedRoot.cert) },
                { name: "unproven-root", cert: certToPem(unverifiedRoot.cert) },
            ],
        })
        // Proof of possession for the fleet root, as its owner does it.
        const dps = emu.emulator.dps
        const { verificationCode } = dps.generateVerificationCode("fleet-root")
        const proof = await issueClientCert(verifiedRoot, { commonName: verificationCode })
        dps.verifyCaCertificate("fleet-root", certToPem(proof.cert))
    })
    after(async () => {
        for (const d of devices) await d.stop()
        await emu?.stop()
    })

    async function boot(regId: string, ck: CertifiedKey): Promise<BootedDevice> {
        // The image holds the device certificate and the issuers below the root, as a TLS client sends them.
        const d = await bootDevice(emu, { REG_ID: regId, ATTESTATION: "x509" }, { clientIdentity: await clientCert(ck, ck.issuers.length - 1) })
        devices.push(d)
        return d
    }

    /** Provisioned, then connected to the hub with the certificate, telemetry acknowledged and received. */
    async function assertHubSession(d: BootedDevice, deviceId: string) {
        await d.line(/^hub: connected/)
        await d.line(/^hub: telemetry #1 acknowledged/)
        const m = await until("telemetry at the hub", () => emu.emulator.service.telemetry(deviceId)[0])
        assert.strictEqual(JSON.parse(m.body.toString()).seq, 1)
        assert.ok(!d.device.consoleLines.some((l) => /renewing SAS token/.test(l)))
    }

    /** The device's own words and the emulator's reason for refusing it. */
    async function refusal(d: BootedDevice, regId: string): Promise<{ refused: string; reason: string }> {
        const o = await provisioningOutcome(d)
        assert.ok(o.refused, `expected a refusal, got ${JSON.stringify(o)}`)
        const ev = emu.events.find((e) => e.name === "dps.refused" && e.data.clientId === regId)
        return { refused: o.refused!, reason: ev?.data.reason ?? "" }
    }

    it("individual enrollment (self-signed device certificate): assigned, then a hub session with the certificate", async () => {
        const d = await boot("e2e-x509-ind", selfSigned)
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-x509-ind" })
        assert.match(d.device.consoleLines.join("\n"), /auth: X\.509 client certificate/)
        await assertHubSession(d, "e2e-x509-ind")
    })

    it("group with a verified root: the device presents only its own certificate", async () => {
        const leaf = await issueClientCert(verifiedRoot, { commonName: "e2e-x509-fleet-7" })
        const d = await boot("e2e-x509-fleet-7", leaf)
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-x509-fleet-7" })
        assert.strictEqual(emu.emulator.registration("e2e-x509-fleet-7")?.enrollmentGroupId, "e2e-x509-fleet")
        await assertHubSession(d, "e2e-x509-fleet-7")
    })

    it("group with an intermediate: the device presents its certificate and the intermediate", async () => {
        const leaf = await issueClientCert(intermediate, { commonName: "e2e-x509-partner-1" })
        const d = await boot("e2e-x509-partner-1", leaf)
        assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "e2e-x509-partner-1" })
        assert.strictEqual(emu.emulator.registration("e2e-x509-partner-1")?.enrollmentGroupId, "e2e-x509-partner")
        await assertHubSession(d, "e2e-x509-partner-1")
    })

    it("a CA without proof of possession is refused, and nothing is assigned", async () => {
        const leaf = await issueClientCert(unverifiedRoot, { commonName: "e2e-x509-unproven-1" })
        const r = await refusal(await boot("e2e-x509-unproven-1", leaf), "e2e-x509-unproven-1")
        assert.match(r.refused, /DPS refused the credentials of e2e-x509-unproven-1/)
        assert.match(r.reason, /not verified/)
        assert.strictEqual(emu.emulator.registration("e2e-x509-unproven-1"), undefined)
    })

    it("refused while its CA is unverified, the device asks again by itself and is assigned once the CA is proven", async () => {
        const root = await createRootCa({ commonName: "e2e late root" })
        const dps = emu.emulator.dps
        dps.uploadCaCertificate("late-root", certToPem(root.cert))
        const leaf = await issueClientCert(root, { commonName: "e2e-x509-late-1" })
        const d = await bootDevice(emu, { REG_ID: "e2e-x509-late-1", ATTESTATION: "x509", REFUSED_RETRY: 2 }, { clientIdentity: await clientCert(leaf) })
        devices.push(d)
        assert.match((await provisioningOutcome(d)).refused ?? "", /DPS refused the credentials of e2e-x509-late-1/)
        const { verificationCode } = dps.generateVerificationCode("late-root")
        dps.verifyCaCertificate("late-root", certToPem((await issueClientCert(root, { commonName: verificationCode })).cert))
        await d.line(/^dps: assigned to localhost as e2e-x509-late-1/, 15000)
        assert.strictEqual(emu.emulator.registration("e2e-x509-late-1")?.enrollmentGroupId, "e2e-x509-late")
    })

    it("a certificate whose CN is not the registration id is refused", async () => {
        const leaf = await issueClientCert(verifiedRoot, { commonName: "e2e-x509-someone-else" })
        const r = await refusal(await boot("e2e-x509-fleet-8", leaf), "e2e-x509-fleet-8")
        assert.match(r.refused, /DPS refused the credentials of e2e-x509-fleet-8/)
        assert.match(r.reason, /e2e-x509-someone-else/)
    })

    it("an expired certificate is refused", async () => {
        const leaf = await issueClientCert(verifiedRoot, { commonName: "e2e-x509-fleet-old", ...expired() })
        const r = await refusal(await boot("e2e-x509-fleet-old", leaf), "e2e-x509-fleet-old")
        assert.match(r.reason, /expired/)
    })

    it("a certificate from an unknown CA is refused", async () => {
        const leaf = await issueClientCert(strangerRoot, { commonName: "e2e-x509-stranger" })
        const r = await refusal(await boot("e2e-x509-stranger", leaf), "e2e-x509-stranger")
        assert.match(r.reason, /does not (chain|lead) to an enrolled/)
    })

    it("without a client certificate in the image (a stock runtime's TLS) the device is refused, and says so", async () => {
        const d = await bootDevice(emu, { REG_ID: "e2e-x509-ind", ATTESTATION: "x509" })
        devices.push(d)
        const r = await refusal(d, "e2e-x509-ind")
        assert.match(r.refused, /DPS refused the credentials of e2e-x509-ind/)
        assert.match(r.reason, /no SAS token and no client certificate/)
    })

    it("ATTESTATION=x509 next to a key is a configuration error, before any connection", async () => {
        const connects = emu.events.length
        const d = await bootDevice(
            emu,
            { REG_ID: "e2e-x509-ind", ATTESTATION: "x509", DEVICE_KEY: "AAAAAAAAAAAAAAAAAAAAAA==" },
            { clientIdentity: await clientCert(selfSigned) }
        )
        devices.push(d)
        assert.match((await provisioningOutcome(d)).fatal ?? "", /ATTESTATION=x509 authenticates with the image's client certificate; remove DEVICE_KEY/)
        assert.ok(!emu.events.slice(connects).some((e) => e.name === "dps.connect" || e.name === "dps.refused"))
    })

    it("a disabled enrollment ends in a clear error naming it", async () => {
        const d = await boot("e2e-x509-disabled", disabledDevice)
        const o = await provisioningOutcome(d)
        assert.match(o.refused ?? "", /disabled/)
        assert.strictEqual(emu.emulator.registration("e2e-x509-disabled")?.status, "disabled")
    })
})
