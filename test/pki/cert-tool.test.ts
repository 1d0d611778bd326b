// The X.509 test certificate tooling (npm run certs): chains TLS accepts, file names and modes,
// proof-of-possession certificates, and the refusals a user meets.
import * as assert from "assert"
import { execFile } from "child_process"
import { X509Certificate, createPrivateKey } from "crypto"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import * as tls from "tls"
import { ROOT } from "../../sim/paths"
import { certToPem, createRootCa, issueServerCert, privateKeyToPem } from "../../sim/pki/certificates"
import { WrittenCert, createDevice, createIntermediate, createRoot, createVerification } from "../../sim/pki/cert-tool"

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cert-tool-"))
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
    return dir
}

const readCert = (file: string) => new X509Certificate(fs.readFileSync(file))
const pemBlocks = (file: string) => fs.readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
const mode = (file: string) => fs.statSync(file).mode & 0o777

/** Presents `certPem`/`keyPem` to a TLS server that requires client certificates from `caPem`; the server's verdict. */
async function clientAuthenticates(certPem: string, keyPem: string, caPem: string): Promise<boolean> {
    const serverCa = await createRootCa({ commonName: "server root" })
    const server = await issueServerCert(serverCa, { commonName: "localhost", dnsNames: ["localhost"] })
    const serverOpts = {
        cert: certToPem(server.cert),
        key: await privateKeyToPem(server.keys),
        ca: caPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2" as const,
    }
    return new Promise((resolve) => {
        const srv = tls.createServer(serverOpts, (s) => {
            s.on("error", () => {})
            s.end()
            srv.close(() => resolve(true))
        })
        srv.on("tlsClientError", () => srv.close(() => resolve(false)))
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as { port: number }).port
            const c = tls.connect({ host: "127.0.0.1", servername: "localhost", port, ca: certToPem(serverCa.cert), cert: certPem, key: keyPem })
            c.on("error", () => {})
            c.on("secureConnect", () => c.on("data", () => {}))
        })
    })
}

describe("X.509 test certificate tooling", function () {
    this.timeout(20_000)
    let dir: string
    let root: WrittenCert, inter: WrittenCert, device: WrittenCert

    before(async () => {
        dir = path.join(tempDir(), "x509")
        root = await createRoot(dir, "Test Root CA")
        inter = await createIntermediate(dir, "Test Intermediate", "Test Root CA")
        device = await createDevice(dir, "dev-01", "Test_Intermediate")
    })

    it("root → intermediate → device: a chain Node and a TLS server requiring client certificates accept", async () => {
        const [r, i, d] = [root, inter, device].map((w) => readCert(w.certFile))
        assert.deepStrictEqual([r.subject, i.subject, d.subject], ["CN=Test Root CA", "CN=Test Intermediate", "CN=dev-01"])
        assert.deepStrictEqual([r.ca, i.ca, d.ca], [true, true, false])
        assert.ok(r.checkIssued(r) && r.verify(r.publicKey))
        assert.ok(i.checkIssued(r) && i.verify(r.publicKey))
        assert.ok(d.checkIssued(i) && d.verify(i.publicKey))
        assert.ok(!d.verify(r.publicKey), "the device is signed by the intermediate, not the root")
        assert.deepStrictEqual(d.keyUsage, [CLIENT_AUTH])
        const fullchain = pemBlocks(device.fullchainFile!).map((p) => new X509Certificate(p).fingerprint256)
        assert.deepStrictEqual(
            fullchain,
            [d, i, r].map((c) => c.fingerprint256),
            "leaf first, then the issuers up to the root"
        )
        assert.strictEqual(pemBlocks(root.fullchainFile!).length, 1)
        const rootPem = fs.readFileSync(root.certFile, "utf8")
        const deviceKey = fs.readFileSync(device.keyFile, "utf8")
        assert.strictEqual(await clientAuthenticates(fs.readFileSync(device.fullchainFile!, "utf8"), deviceKey, rootPem), true)
        const stranger = await createDevice(dir, "stranger", undefined)
        const strangerPem = fs.readFileSync(stranger.certFile, "utf8")
        assert.strictEqual(await clientAuthenticates(strangerPem, fs.readFileSync(stranger.keyFile, "utf8"), rootPem), false)
    })

    it("names files after the common name, reports the thumbprints az shows, and keeps keys 0600 in a 0700 folder", () => {
        assert.deepStrictEqual(
            fs
                .readdirSync(dir)
                .filter((f) => !f.startsWith("stranger"))
                .sort(),
            ["Test_Intermediate", "Test_Root_CA", "dev-01"].flatMap((n) => [`${n}_cert.pem`, `${n}_fullchain.pem`, `${n}_key.pem`]).sort()
        )
        assert.strictEqual(mode(dir), 0o700)
        for (const w of [root, inter, device]) {
            const cert = readCert(w.certFile)
            assert.strictEqual(w.sha1Thumbprint, cert.fingerprint.replace(/:/g, ""))
            assert.match(w.sha256Thumbprint, /^[0-9A-F]{64}$/)
            assert.strictEqual(mode(w.keyFile), 0o600)
            const keyPem = fs.readFileSync(w.keyFile, "utf8")
            const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ""), "base64")
            assert.ok(der.equals(createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" })), "PKCS#8")
            assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), `${w.keyFile} belongs to ${w.certFile}`)
            assert.strictEqual(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1")
        }
    })

    it("--rsa makes RSA 2048 keys, also under an EC CA", async () => {
        const rsaRoot = await createRoot(dir, "RSA Root", { algorithm: "rsa-2048" })
        const rsaDevice = await createDevice(dir, "rsa-dev", "Test_Intermediate", { algorithm: "rsa-2048" })
        for (const w of [rsaRoot, rsaDevice]) {
            const key = createPrivateKey(fs.readFileSync(w.keyFile, "utf8"))
            assert.strictEqual(key.asymmetricKeyType, "rsa")
            assert.strictEqual(key.asymmetricKeyDetails?.modulusLength, 2048)
            assert.strictEqual(readCert(w.certFile).publicKey.asymmetricKeyType, "rsa")
        }
        assert.ok(readCert(rsaDevice.certFile).verify(readCert(inter.certFile).publicKey))
    })

    it("a verification certificate has CN = the code and is signed by the CA's key", async () => {
        const v = await createVerification(dir, "4B3F9A0C11D2E3F405A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0", "Test Root CA")
        assert.strictEqual(path.basename(v.certFile), "Test_Root_CA_verification_cert.pem")
        assert.strictEqual(path.basename(v.keyFile), "Test_Root_CA_verification_key.pem")
        assert.strictEqual(v.fullchainFile, undefined)
        const cert = readCert(v.certFile)
        assert.strictEqual(cert.subject, "CN=4B3F9A0C11D2E3F405A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0")
        assert.ok(cert.checkIssued(readCert(root.certFile)) && cert.verify(readCert(root.certFile).publicKey))
        assert.strictEqual(mode(v.keyFile), 0o600)
    })

    it("a device without --ca is self-signed, for individual enrollments and thumbprint identities", async () => {
        const self = await createDevice(dir, "solo:01", undefined)
        assert.strictEqual(path.basename(self.certFile), "solo_01_cert.pem")
        const cert = readCert(self.certFile)
        assert.strictEqual(cert.subject, "CN=solo:01")
        assert.strictEqual(cert.issuer, cert.subject)
        assert.ok(cert.verify(cert.publicKey))
        assert.deepStrictEqual([cert.ca, cert.keyUsage], [false, [CLIENT_AUTH]])
    })

    it("a certificate never outlives its issuer", async () => {
        const long = await createDevice(dir, "long-lived", "Test Intermediate", { days: 3000 })
        assert.strictEqual(long.notAfter.getTime(), new Date(readCert(inter.certFile).validTo).getTime())
    })

    it("names the missing file of an unknown CA and writes nothing", async () => {
        const empty = path.join(tempDir(), "none")
        await assert.rejects(createDevice(empty, "dev-02", "Nope CA"), (e: Error) => e.message.includes(path.join(empty, "Nope_CA_cert.pem")))
        assert.ok(!fs.existsSync(empty))
        fs.renameSync(root.fullchainFile!, `${root.fullchainFile}.bak`)
        try {
            await assert.rejects(createIntermediate(dir, "Other", "Test Root CA"), (e: Error) => e.message.includes(root.fullchainFile!))
        } finally {
            fs.renameSync(`${root.fullchainFile}.bak`, root.fullchainFile!)
        }
    })

    it("refuses to overwrite a certificate without --force", async () => {
        const before = fs.readFileSync(device.certFile, "utf8")
        await assert.rejects(createDevice(dir, "dev-01", "Test Intermediate"), /dev-01_cert\.pem exists; pass --force/)
        assert.strictEqual(fs.readFileSync(device.certFile, "utf8"), before)
        const replaced = await createDevice(dir, "dev-01", "Test Intermediate", { force: true })
        assert.notStrictEqual(replaced.sha256Thumbprint, device.sha256Thumbprint)
        device = replaced
    })

    it("refuses ids a certificate cannot carry, and a second level of intermediates", async () => {
        await createDevice(dir, "d".repeat(64), undefined)
        await assert.rejects(createDevice(dir, "d".repeat(65), undefined), /is 65 characters: .*at most 64 \(DPS allows 128/)
        await assert.rejects(createDevice(dir, "d".repeat(129), undefined), /not a DPS registration id/)
        await assert.rejects(createDevice(dir, "dev 03", undefined), /not a DPS registration id/)
        await assert.rejects(createRoot(dir, "Acme, Inc. Root"), /cannot carry/)
        await assert.rejects(createIntermediate(dir, "Nested", "Test Intermediate"), /may sign device certificates only \(path length 0\)/)
        await assert.rejects(createDevice(dir, "dev-04", "dev-01"), /not a CA certificate/)
    })

    it("works from the command line and prints paths and thumbprints, never a key", async () => {
        const cwd = tempDir()
        const cli = (...args: string[]) =>
            new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
                execFile(
                    process.execPath,
                    ["-r", "ts-node/register/transpile-only", "sim/pki/cert-cli.ts", ...args, "--dir", "out"],
                    { cwd: ROOT, env: { ...process.env, INIT_CWD: cwd } },
                    (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
                )
            )
        const [made, missing] = await Promise.all([cli("root"), cli("device", "dev-05", "--ca", "Missing CA")])
        assert.strictEqual(made.code, 0, made.stderr)
        assert.strictEqual(missing.code, 1)
        assert.match(missing.stderr, /CA "Missing CA" not found: .*Missing_CA_cert\.pem does not exist/)
        const dev = await cli("device", "dev-05", "--ca", "Azure IoT Test Root CA", "--rsa")
        assert.strictEqual(dev.code, 0, dev.stderr)
        const certFile = path.join(cwd, "out", "dev-05_cert.pem")
        const cert = readCert(certFile)
        assert.ok(cert.verify(readCert(path.join(cwd, "out", "Azure_IoT_Test_Root_CA_cert.pem")).publicKey))
        assert.match(dev.stdout, /device certificate CN=dev-05 \(RSA 2048\), issued by CN=Azure IoT Test Root CA/)
        assert.ok(dev.stdout.includes(path.join("out", "dev-05_fullchain.pem")), dev.stdout)
        assert.ok(dev.stdout.includes(cert.fingerprint.replace(/:/g, "")) && dev.stdout.includes(cert.fingerprint256.replace(/:/g, "")))
        const keyBody = fs.readFileSync(path.join(cwd, "out", "dev-05_key.pem"), "utf8").split("\n")[1]
        for (const out of [made.stdout + made.stderr, dev.stdout + dev.stderr]) {
            assert.ok(!out.includes("PRIVATE KEY") && !out.includes(keyBody), "no key material on the console")
        }
    })
})
