// The edge PKI tooling: IoT Edge's chain shape (root -> edge CA -> edgeHub server certificate
// for the gateway host name and `edgeHub`), 0600 keys, idempotence and reissue.
import * as assert from "assert"
import * as fs from "fs"
import { X509Certificate } from "crypto"
import { writeEdgePki } from "../../sim/pki"
import { tempDir } from "../support/emulator"

const certs = (file: string) =>
    fs
        .readFileSync(file, "utf8")
        .split(/(?=-----BEGIN CERTIFICATE-----)/)
        .map((pem) => new X509Certificate(pem))

describe("edge PKI", () => {
    it("writes root -> edge CA -> edgeHub certificate for the gateway host name, keys 0600, then leaves them alone", async () => {
        const dir = tempDir("edge-pki-test")
        const first = await writeEdgePki(dir, "localhost")
        assert.strictEqual(first.generated, "root, edge CA and server")
        for (const f of [first.rootKeyFile, first.edgeCaKeyFile, first.serverKeyFile]) assert.strictEqual(fs.statSync(f).mode & 0o777, 0o600)
        const [root] = certs(first.rootCertFile)
        const [server, edgeCa, ...more] = certs(first.serverCertFile)
        assert.strictEqual(more.length, 0, "the chain is the leaf and the edge CA, not the root")
        assert.ok(server.checkIssued(edgeCa) && server.verify(edgeCa.publicKey))
        assert.ok(edgeCa.checkIssued(root) && edgeCa.verify(root.publicKey) && edgeCa.ca)
        assert.strictEqual(server.subject, "CN=localhost")
        assert.strictEqual(server.subjectAltName, "DNS:localhost, DNS:edgeHub")
        assert.strictEqual(server.checkHost("edgeHub"), "edgeHub")
        const before = fs.readFileSync(first.serverCertFile, "utf8")
        assert.strictEqual((await writeEdgePki(dir, "localhost")).generated, "nothing")
        assert.strictEqual(fs.readFileSync(first.serverCertFile, "utf8"), before)
    })

    it("reissues the server certificate for another gateway host (an IP goes in as an IP SAN), keeping the root", async () => {
        const dir = tempDir("edge-pki-test")
        const first = await writeEdgePki(dir, "localhost")
        const root = fs.readFileSync(first.rootCertFile, "utf8")
        assert.strictEqual((await writeEdgePki(dir, "127.0.0.1")).generated, "server")
        const [server] = certs(first.serverCertFile)
        assert.strictEqual(server.subject, "CN=127.0.0.1")
        assert.strictEqual(server.checkIP("127.0.0.1"), "127.0.0.1")
        assert.strictEqual(fs.readFileSync(first.rootCertFile, "utf8"), root)
    })

    it("repairs a damaged edge CA by reissuing it and the server certificate under the same root", async () => {
        const dir = tempDir("edge-pki-test")
        const first = await writeEdgePki(dir, "localhost")
        fs.writeFileSync(first.edgeCaKeyFile, "not a key")
        assert.strictEqual((await writeEdgePki(dir, "localhost")).generated, "edge CA and server")
        const [root] = certs(first.rootCertFile)
        const [server, edgeCa] = certs(first.serverCertFile)
        assert.ok(server.verify(edgeCa.publicKey) && edgeCa.verify(root.publicKey))
    })
})
