// DPS X.509 attestation over TLS: devices present their certificate chain in the handshake and
// send no password; individual enrollments (certificate or thumbprint) come first, then the nearest
// group CA up the chain, which must be verified when uploaded by name.
import * as assert from "assert"
import { x509Thumbprints } from "../../sim/emulator/auth/x509"
import { CertifiedKey, createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki/certificates"
import { individual, provision } from "./fixtures"
import { RunningEmulator, startTestEmulator } from "../support/emulator"
import { ClientCert, RawClient } from "../support/raw-mqtt-client"
import { clientCert, expired, nodeCert, pem } from "./x509-fixtures"

describe("DPS X.509 attestation", () => {
    let emu: RunningEmulator
    let fleetRoot: CertifiedKey
    let unprovenRoot: CertifiedKey
    let partnerIntermediate: CertifiedKey
    let nearRoot: CertifiedKey
    let nearIntermediate: CertifiedKey
    let disabledRoot: CertifiedKey
    let strangerRoot: CertifiedKey
    const certs: Record<string, CertifiedKey> = {}
    const sas = individual("x-sas")

    before(async () => {
        fleetRoot = await createRootCa({ commonName: "Fleet Root" })
        unprovenRoot = await createRootCa({ commonName: "Unproven Root" })
        partnerIntermediate = await issueIntermediateCa(await createRootCa({ commonName: "Partner Root" }), { commonName: "Partner Intermediate" })
        nearRoot = await createRootCa({ commonName: "Near Root" })
        nearIntermediate = await issueIntermediateCa(nearRoot, { commonName: "Near Intermediate" })
        disabledRoot = await createRootCa({ commonName: "Disabled Root" })
        strangerRoot = await createRootCa({ commonName: "Stranger Root" })
        const fleetIntermediate = await issueIntermediateCa(fleetRoot, { commonName: "Fleet Intermediate" })
        for (const id of ["x-ind-cert", "x-ind-thumb", "x-ind-mismatch", "x-ind-disabled"]) certs[id] = await issueClientCert(undefined, { commonName: id })
        certs["x-ind-mismatch-presented"] = await issueClientCert(fleetRoot, { commonName: "x-ind-mismatch" })
        certs["x-root-direct"] = await issueClientCert(fleetRoot, { commonName: "x-root-direct" })
        certs["x-root-via-intermediate"] = await issueClientCert(fleetIntermediate, { commonName: "x-root-via-intermediate" })
        certs["x-partner"] = await issueClientCert(partnerIntermediate, { commonName: "x-partner" })
        certs["x-near"] = await issueClientCert(nearIntermediate, { commonName: "x-near" })
        certs["x-unproven"] = await issueClientCert(unprovenRoot, { commonName: "x-unproven" })
        certs["x-disabled-group"] = await issueClientCert(disabledRoot, { commonName: "x-disabled-group" })
        certs["x-stranger"] = await issueClientCert(strangerRoot, { commonName: "x-stranger" })
        certs["x-expired"] = await issueClientCert(fleetRoot, { commonName: "x-expired", ...expired() })
        certs["x-not-me"] = await issueClientCert(fleetRoot, { commonName: "x-not-me" })
        certs["x-sas"] = await issueClientCert(fleetRoot, { commonName: "x-sas" })
        emu = await startTestEmulator({
            enrollments: [
                { registrationId: "x-ind-cert", attestation: { type: "x509", certificate: pem(certs["x-ind-cert"]) } },
                {
                    registrationId: "x-ind-thumb",
                    attestation: { type: "x509", thumbprint: "00".repeat(20), secondaryThumbprint: x509Thumbprints(nodeCert(certs["x-ind-thumb"])).sha256 },
                },
                { registrationId: "x-ind-mismatch", attestation: { type: "x509", certificate: pem(certs["x-ind-mismatch"]) } },
                { registrationId: "x-ind-disabled", attestation: { type: "x509", certificate: pem(certs["x-ind-disabled"]) }, enabled: false },
                sas,
                { enrollmentGroupId: "g-fleet", attestation: { type: "x509", caCertificate: "fleet-root" } },
                { enrollmentGroupId: "g-unproven", attestation: { type: "x509", caCertificate: "unproven-root" } },
                { enrollmentGroupId: "g-partner", attestation: { type: "x509", certificate: pem(partnerIntermediate) } },
                { enrollmentGroupId: "g-near-root", attestation: { type: "x509", caCertificate: "near-root" } },
                { enrollmentGroupId: "g-near-intermediate", attestation: { type: "x509", certificate: pem(nearIntermediate) } },
                { enrollmentGroupId: "g-disabled", attestation: { type: "x509", caCertificate: "disabled-root" }, enabled: false },
            ],
            certificates: [
                { name: "fleet-root", cert: pem(fleetRoot) },
                { name: "unproven-root", cert: pem(unprovenRoot) },
                { name: "near-root", cert: pem(nearRoot), verified: true },
                { name: "disabled-root", cert: pem(disabledRoot), verified: true },
            ],
        })
        // Proof of possession for the fleet root, as its owner does it.
        const { verificationCode } = emu.emulator.dps.generateVerificationCode("fleet-root")
        emu.emulator.dps.verifyCaCertificate("fleet-root", pem(await issueClientCert(fleetRoot, { commonName: verificationCode })))
    })
    after(() => emu?.stop())

    /** Provisions `regId` presenting `ck` (with `intermediates` of its issuers); the final answer. */
    async function provisionX509(regId: string, ck: CertifiedKey, intermediates = 0) {
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: regId }, undefined, await clientCert(ck, intermediates))
        return answers[answers.length - 1]
    }

    /** The CONNACK code and the dps.refused reason of a connection that presents `cert`. */
    async function refusal(regId: string, cert?: ClientCert): Promise<{ code: number; reason: string }> {
        const c = await RawClient.open(emu.mqttPort, emu.ca, "localhost", cert)
        try {
            const code = await c.connect({ registrationId: regId })
            const ev = emu.events.filter((e) => e.name === "dps.refused" && e.data.clientId === regId).pop()
            return { code, reason: ev?.data.reason }
        } finally {
            c.close()
        }
    }

    function assertAssigned(answer: { status: number; body: any }, deviceId: string, groupId?: string) {
        assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
        const state = answer.body.registrationState
        assert.strictEqual(state.status, "assigned")
        assert.strictEqual(state.deviceId, deviceId)
        assert.deepStrictEqual(state.x509, groupId === undefined ? undefined : { enrollmentGroupId: groupId })
        assert.strictEqual(state.symmetricKey, undefined)
    }

    it("assigns an individual enrollment by its certificate, and reports CN and thumbprint", async () => {
        assertAssigned(await provisionX509("x-ind-cert", certs["x-ind-cert"]), "x-ind-cert")
        const ev = emu.events.find((e) => e.name === "dps.connect" && e.data.registrationId === "x-ind-cert")!.data
        assert.strictEqual(ev.attestation, "x509")
        assert.strictEqual(ev.commonName, "x-ind-cert")
        assert.strictEqual(ev.thumbprint, x509Thumbprints(nodeCert(certs["x-ind-cert"])).sha1)
        assert.strictEqual(ev.key, undefined)
    })

    it("assigns an individual enrollment by its (secondary, SHA-256) thumbprint; the registration id is case-insensitive", async () => {
        assertAssigned(await provisionX509("X-IND-THUMB", certs["x-ind-thumb"]), "x-ind-thumb")
    })

    it("assigns a device of a verified root presenting its leaf alone, or leaf + intermediate", async () => {
        assertAssigned(await provisionX509("x-root-direct", certs["x-root-direct"]), "x-root-direct", "g-fleet")
        assertAssigned(await provisionX509("x-root-via-intermediate", certs["x-root-via-intermediate"], 1), "x-root-via-intermediate", "g-fleet")
    })

    it("assigns a device of a group enrolled with an intermediate CA (no proof of possession)", async () => {
        assertAssigned(await provisionX509("x-partner", certs["x-partner"]), "x-partner", "g-partner")
    })

    it("picks the nearest group up the chain when both the root and the intermediate are enrolled", async () => {
        assertAssigned(await provisionX509("x-near", certs["x-near"], 1), "x-near", "g-near-intermediate")
    })

    it("answers a disabled individual or group enrollment with status disabled", async () => {
        for (const [regId, ck] of [
            ["x-ind-disabled", certs["x-ind-disabled"]],
            ["x-disabled-group", certs["x-disabled-group"]],
        ] as const) {
            const answer = await provisionX509(regId, ck)
            assert.strictEqual(answer.body.registrationState.status, "disabled", regId)
            assert.strictEqual(emu.emulator.state.hub.device(regId), undefined, `${regId} has no hub identity`)
        }
    })

    it("refuses an unverified CA, naming it", async () => {
        const r = await refusal("x-unproven", await clientCert(certs["x-unproven"]))
        assert.strictEqual(r.code, 5)
        assert.match(r.reason, /CA certificate unproven-root of enrollment group g-unproven is not verified \(proof of possession\)/)
    })

    it("refuses a certificate whose CN is not the registration id, naming both", async () => {
        const r = await refusal("x-wrong-cn", await clientCert(certs["x-not-me"]))
        assert.strictEqual(r.code, 5)
        assert.match(r.reason, /certificate CN "x-not-me" is not the registration id "x-wrong-cn"/)
    })

    it("refuses an expired certificate with its date", async () => {
        const r = await refusal("x-expired", await clientCert(certs["x-expired"]))
        assert.strictEqual(r.code, 5)
        assert.match(r.reason, /"x-expired" expired on .*GMT/)
    })

    it("refuses a certificate of an unknown CA, naming the issuer", async () => {
        const r = await refusal("x-stranger", await clientCert(certs["x-stranger"]))
        assert.strictEqual(r.code, 5)
        assert.match(r.reason, /chain does not lead to an enrolled CA: .*"CN=Stranger Root"/)
    })

    it("refuses a CONNECT with neither password nor client certificate", async () => {
        const r = await refusal("x-ind-cert")
        assert.strictEqual(r.code, 5)
        assert.strictEqual(r.reason, "no SAS token and no client certificate")
    })

    it("refuses a certificate that differs from the individual enrollment's, even when a group would take it", async () => {
        const r = await refusal("x-ind-mismatch", await clientCert(certs["x-ind-mismatch-presented"]))
        assert.strictEqual(r.code, 5)
        assert.match(r.reason, /matches neither certificate of individual enrollment x-ind-mismatch/)
    })

    it("refuses an X.509 device at a symmetric key enrollment, and keeps the SAS path when a client certificate is presented", async () => {
        const r = await refusal("x-sas", await clientCert(certs["x-sas"]))
        assert.match(r.reason, /individual enrollment x-sas uses symmetric key attestation/)
        const answers = await provision(
            emu.mqttPort,
            emu.ca,
            { registrationId: "x-sas", key: sas.attestation.primaryKey },
            undefined,
            await clientCert(certs["x-sas"])
        )
        assert.strictEqual(answers[answers.length - 1].body.registrationState.status, "assigned")
        const ev = emu.events.find((e) => e.name === "dps.connect" && e.data.registrationId === "x-sas")!.data
        assert.deepStrictEqual([ev.attestation, ev.key], ["symmetricKey", "primary"])
    })

    it("answers X.509 refusals with 401 at registration under dps.authFailure register", async () => {
        const lenient = await startTestEmulator({ enrollments: [], dps: { authFailure: "register" } })
        try {
            const c = await RawClient.open(lenient.mqttPort, lenient.ca, "localhost", await clientCert(certs["x-stranger"]))
            assert.strictEqual(await c.connect({ registrationId: "x-stranger" }), 0)
            await c.subscribe()
            const answer = await c.register("1", { registrationId: "x-stranger" })
            c.close()
            assert.strictEqual(answer.status, 401)
            const ev = lenient.events.find((e) => e.name === "dps.refused")!.data
            assert.match(ev.reason, /does not lead to an enrolled CA/)
        } finally {
            await lenient.stop()
        }
    })
})
