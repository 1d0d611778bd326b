// DPS's certificate resource on the service side: upload a CA, get a verification code, prove
// possession of the CA's key with a certificate whose CN is the code, in code, over HTTPS and
// through service-cli.
import * as assert from "assert"
import * as fs from "fs"
import * as path from "path"
import { CaStore } from "../../sim/emulator/state/ca-store"
import { CaStoreError, DpsService } from "../../sim/emulator/service/dps-service"
import { ServiceClient, ServiceRequestError } from "../../sim/emulator/service/service-client"
import { CertifiedKey, certToPem, createRootCa, issueClientCert } from "../../sim/pki/certificates"
import { RunningEmulator, startTestEmulator, tempDir } from "../support/emulator"
import { serviceCliFor } from "./service-cli-runner"

const refusedWith = (status: number, re: RegExp) => (e: CaStoreError) => e instanceof CaStoreError && e.status === status && re.test(e.message)

describe("DPS certificates (proof of possession)", () => {
    let root: CertifiedKey
    let other: CertifiedKey
    const verificationPem = async (issuer: CertifiedKey, commonName: string, validity: { notBefore?: Date; notAfter?: Date } = {}) =>
        certToPem((await issueClientCert(issuer, { commonName, ...validity })).cert)

    before(async () => {
        root = await createRootCa({ commonName: "Fleet Root CA" })
        other = await createRootCa({ commonName: "Someone Else's CA" })
    })

    describe("in code", () => {
        let dps: DpsService
        let changes: string[]
        beforeEach(() => {
            changes = []
            dps = new DpsService(new CaStore(), (name, data) => changes.push(`${name} ${JSON.stringify(data)}`))
        })

        it("uploads a CA unverified and shows it as DPS does", () => {
            const v = dps.uploadCaCertificate("fleet-root", certToPem(root.cert))
            assert.strictEqual(v.isVerified, false)
            assert.match(v.subject, /CN=Fleet Root CA/)
            assert.match(v.thumbprint, /^[0-9A-F]{40}$/)
            assert.match(v.sha256Thumbprint, /^[0-9A-F]{64}$/)
            assert.strictEqual(v.expiry, root.cert.notAfter.toISOString().replace(/\.\d+Z$/, ".000Z"))
            assert.deepStrictEqual(dps.listCaCertificates(), [v])
            assert.deepStrictEqual(dps.getCaCertificate("FLEET-ROOT"), v)
        })

        it("verifies the CA with a certificate whose CN is the code, signed by the CA's key; the code is then spent", async () => {
            dps.uploadCaCertificate("fleet-root", certToPem(root.cert))
            assert.throws(() => dps.verifyCaCertificate("fleet-root", certToPem(root.cert)), refusedWith(400, /no verification code/))
            const { verificationCode } = dps.generateVerificationCode("fleet-root")
            assert.match(verificationCode, /^[0-9A-F]{48}$/)
            assert.throws(() => dps.verifyCaCertificate("fleet-root", certToPem(root.cert)), refusedWith(400, /is not the verification code/))
            const wrongKey = await verificationPem(other, verificationCode)
            assert.throws(() => dps.verifyCaCertificate("fleet-root", wrongKey), refusedWith(400, /not signed by the private key of fleet-root/))
            const expired = await verificationPem(root, verificationCode, {
                notBefore: new Date(Date.now() - 2 * 864e5),
                notAfter: new Date(Date.now() - 864e5),
            })
            assert.throws(() => dps.verifyCaCertificate("fleet-root", expired), refusedWith(400, /expired/))
            assert.strictEqual(dps.getCaCertificate("fleet-root").isVerified, false)

            assert.strictEqual(dps.verifyCaCertificate("fleet-root", await verificationPem(root, verificationCode)).isVerified, true)
            assert.strictEqual(dps.getCaCertificate("fleet-root").isVerified, true)
            assert.throws(() => dps.verifyCaCertificate("fleet-root", wrongKey), refusedWith(400, /no verification code/))
            // Each change is reported once; refused attempts change nothing.
            assert.deepStrictEqual(
                changes.map((c) => JSON.parse(c.slice(c.indexOf(" ") + 1)).change),
                ["uploaded", "verification code issued", "verified"]
            )
        })

        it("accepts only the latest code", async () => {
            dps.uploadCaCertificate("fleet-root", certToPem(root.cert))
            const first = dps.generateVerificationCode("fleet-root").verificationCode
            dps.generateVerificationCode("fleet-root")
            await assert.rejects(
                async () => dps.verifyCaCertificate("fleet-root", await verificationPem(root, first)),
                refusedWith(400, /is not the verification code/)
            )
        })

        it("takes base64 DER and --verified, refuses leaves and junk, and re-uploading resets verification", async () => {
            const der = Buffer.from(root.cert.rawData).toString("base64")
            assert.strictEqual(dps.uploadCaCertificate("der-root", der, { verified: true }).isVerified, true)
            assert.strictEqual(dps.uploadCaCertificate("der-root", der).isVerified, false)
            const leaf = certToPem((await issueClientCert(root, { commonName: "dev-1" })).cert)
            assert.throws(() => dps.uploadCaCertificate("leaf", leaf), refusedWith(400, /not a CA certificate/))
            assert.throws(() => dps.uploadCaCertificate("junk", "not a certificate!"), refusedWith(400, /PEM or base64/))
            assert.throws(() => dps.uploadCaCertificate("junk", "QUJD"), refusedWith(400, /junk/))
            assert.throws(() => dps.uploadCaCertificate("bad name/", der), refusedWith(400, /must be 1-256/))
        })

        it("answers 404 for an unknown name and deletes", () => {
            for (const call of [
                () => dps.getCaCertificate("nope"),
                () => dps.generateVerificationCode("nope"),
                () => dps.verifyCaCertificate("nope", certToPem(root.cert)),
                () => dps.deleteCaCertificate("nope"),
            ])
                assert.throws(call, refusedWith(404, /no certificate named nope/))
            dps.uploadCaCertificate("fleet-root", certToPem(root.cert))
            dps.deleteCaCertificate("fleet-root")
            assert.deepStrictEqual(dps.listCaCertificates(), [])
        })
    })

    describe("service endpoint and service-cli", () => {
        let emu: RunningEmulator
        let client: ServiceClient
        before(async () => {
            emu = await startTestEmulator()
            client = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: "localhost", serviceKey: emu.serviceKey })
        })
        after(() => emu.stop())

        it("runs the proof of possession over HTTPS, into the emulator's CA store, with DPS-like errors", async () => {
            const created = await client.uploadCaCertificate("https-root", certToPem(root.cert))
            assert.deepStrictEqual([created.name, created.isVerified], ["https-root", false])
            const { verificationCode } = await client.generateVerificationCode("https-root")
            await assert.rejects(
                client.verifyCaCertificate("https-root", await verificationPem(other, verificationCode)),
                (e: ServiceRequestError) => e.status === 400 && e.errorCode === 400004 && /not signed by the private key/.test(e.message)
            )
            const der = Buffer.from((await issueClientCert(root, { commonName: verificationCode })).cert.rawData).toString("base64")
            assert.strictEqual((await client.verifyCaCertificate("https-root", der)).isVerified, true)
            assert.strictEqual(emu.emulator.state.certificates.get("https-root")?.verified, true)
            assert.deepStrictEqual(await client.getCaCertificate("https-root"), emu.emulator.dps.getCaCertificate("https-root"))
            assert.deepStrictEqual(
                (await client.listCaCertificates()).map((c) => c.name),
                ["https-root"]
            )

            await client.deleteCaCertificate("https-root")
            await assert.rejects(client.getCaCertificate("https-root"), (e: ServiceRequestError) => e.status === 404 && e.errorCode === 404000)
            await assert.rejects(client.uploadCaCertificate("x", "junk!"), (e: ServiceRequestError) => e.status === 400 && e.errorCode === 400004)
        })

        it("service-cli: create -> generate-verification-code -> verify", async () => {
            const cli = await serviceCliFor(emu)
            const dir = tempDir("dps-certificate-cli")
            const caFile = path.join(dir, "root.cer")
            fs.writeFileSync(caFile, Buffer.from(root.cert.rawData))
            const created = JSON.parse((await cli("dps", "certificate", "create", "--name", "cli-root", "--path", caFile)).stdout)
            assert.deepStrictEqual([created.name, created.isVerified], ["cli-root", false])

            const code = await cli("dps", "certificate", "generate-verification-code", "--name", "cli-root")
            const { verificationCode } = JSON.parse(code.stdout)
            assert.ok(code.stderr.includes(`npm run certs -- verification ${verificationCode}`), code.stderr)

            const wrongFile = path.join(dir, "wrong.pem")
            fs.writeFileSync(wrongFile, await verificationPem(other, verificationCode))
            await assert.rejects(
                cli("dps", "certificate", "verify", "--name", "cli-root", "--path", wrongFile),
                /400 400004: verification certificate is not signed/
            )

            const verificationFile = path.join(dir, "verification.pem")
            fs.writeFileSync(verificationFile, await verificationPem(root, verificationCode))
            const verified = JSON.parse((await cli("dps", "certificate", "verify", "--name", "cli-root", "--path", verificationFile)).stdout)
            assert.strictEqual(verified.isVerified, true)
            assert.strictEqual(emu.emulator.dps.getCaCertificate("cli-root").isVerified, true)
        })
    })
})
