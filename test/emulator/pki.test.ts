// The test PKI tooling: files and modes, idempotence, repair, and chains TLS clients accept.
import * as assert from "assert"
import * as fs from "fs"
import * as tls from "tls"
import { CertifiedKey, certToPem, chainToPem, createRootCa, issueIntermediateCa, issueServerCert, privateKeyToPem, writeTestPki } from "../../sim/pki"
import { tempDir } from "../support/emulator"

/** Serves the chain and completes a TLS handshake as `host` trusting only `rootPem`; resolves to the error, if any. */
function handshake(certPem: string, keyPem: string, rootPem: string, host: string): Promise<Error | undefined> {
    return new Promise((resolve) => {
        const server = tls.createServer({ cert: certPem, key: keyPem, minVersion: "TLSv1.2" }, (s) => s.end())
        server.on("tlsClientError", () => {})
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as { port: number }).port
            const c = tls.connect({ host, port, ca: rootPem, servername: host === "localhost" ? host : undefined }, () => {
                c.destroy()
                server.close(() => resolve(undefined))
            })
            c.on("error", (e) => server.close(() => resolve(e)))
        })
    })
}

describe("test PKI", () => {
    it("writes the root, the server chain and 0600 keys, then leaves them alone", async () => {
        const dir = tempDir("pki-test")
        const first = await writeTestPki(dir)
        assert.strictEqual(first.generated, "root and server")
        assert.strictEqual(fs.statSync(first.serverKeyFile).mode & 0o777, 0o600)
        assert.strictEqual(fs.statSync(first.rootKeyFile).mode & 0o777, 0o600)
        const before = [first.rootCertFile, first.serverCertFile, first.serverKeyFile].map((f) => fs.readFileSync(f, "utf8"))
        const second = await writeTestPki(dir)
        assert.strictEqual(second.generated, "nothing")
        assert.deepStrictEqual(
            [second.rootCertFile, second.serverCertFile, second.serverKeyFile].map((f) => fs.readFileSync(f, "utf8")),
            before
        )
        const root = fs.readFileSync(first.rootCertFile, "utf8")
        const [cert, key] = [fs.readFileSync(first.serverCertFile, "utf8"), fs.readFileSync(first.serverKeyFile, "utf8")]
        assert.strictEqual(await handshake(cert, key, root, "localhost"), undefined)
        assert.strictEqual(await handshake(cert, key, root, "127.0.0.1"), undefined)
        const other = await handshake(cert, key, tls.rootCertificates.join("\n"), "localhost")
        assert.ok(other, "a client trusting only public roots must refuse the emulator")
    })

    it("reissues a missing, mismatched or expiring server certificate from the same root", async () => {
        const dir = tempDir("pki-test")
        const files = await writeTestPki(dir)
        const root = fs.readFileSync(files.rootCertFile, "utf8")
        fs.rmSync(files.serverCertFile)
        assert.strictEqual((await writeTestPki(dir)).generated, "server")
        // A key that does not belong to the certificate.
        fs.copyFileSync(files.rootKeyFile, files.serverKeyFile)
        assert.strictEqual((await writeTestPki(dir)).generated, "server")
        // A certificate that expires now.
        const ca = await createRootCa({ commonName: "other" })
        const expiring = await issueServerCert(ca, { commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 0 })
        fs.writeFileSync(files.serverCertFile, chainToPem(expiring))
        fs.writeFileSync(files.serverKeyFile, await privateKeyToPem(expiring.keys))
        assert.strictEqual((await writeTestPki(dir)).generated, "server")
        assert.strictEqual(fs.readFileSync(files.rootCertFile, "utf8"), root)
        const cert = fs.readFileSync(files.serverCertFile, "utf8")
        assert.strictEqual(await handshake(cert, fs.readFileSync(files.serverKeyFile, "utf8"), root, "localhost"), undefined)
    })

    it("replaces everything when the root key is gone", async () => {
        const dir = tempDir("pki-test")
        const files = await writeTestPki(dir)
        const root = fs.readFileSync(files.rootCertFile, "utf8")
        fs.rmSync(files.rootKeyFile)
        assert.strictEqual((await writeTestPki(dir)).generated, "root and server")
        assert.notStrictEqual(fs.readFileSync(files.rootCertFile, "utf8"), root)
    })

    it("builds an RSA root -> EC intermediate -> server chain that TLS accepts (an IoT Edge-style chain)", async () => {
        const root: CertifiedKey = await createRootCa({ commonName: "rsa root", algorithm: "rsa-2048" })
        const edgeCa = await issueIntermediateCa(root, { commonName: "edge ca" })
        const server = await issueServerCert(edgeCa, { commonName: "gateway.local", dnsNames: ["localhost", "edgeHub"], ipAddresses: ["127.0.0.1"] })
        const chain = chainToPem(server)
        assert.strictEqual(chain.match(/BEGIN CERTIFICATE/g)!.length, 2)
        assert.strictEqual(await handshake(chain, await privateKeyToPem(server.keys), certToPem(root.cert), "localhost"), undefined)
        // Without the intermediate in the chain, clients cannot build a path to the root.
        const leafOnly = certToPem(server.cert)
        assert.ok(await handshake(leafOnly, await privateKeyToPem(server.keys), certToPem(root.cert), "localhost"))
    })
})
