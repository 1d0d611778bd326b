// The public roots embedded in firmware images are the ones Azure chains to, byte for byte.
import * as assert from "assert"
import * as crypto from "crypto"
import * as fs from "fs"
import * as path from "path"
import { AZURE_ROOT_CAS, ROOT } from "../../sim/paths"

// Validity is pinned rather than compared with today: the suite must not break on the day a root expires
// (replacing a root changes its fingerprint here anyway, and the images carry whatever these files hold).
const EXPECTED: Record<string, { cn: string; sha256: string; validTo: string }> = {
    "DigiCert_Global_Root_G2.pem": {
        cn: "DigiCert Global Root G2",
        sha256: "CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F",
        validTo: "2038-01-15T12:00:00.000Z",
    },
    "Microsoft_RSA_Root_Certificate_Authority_2017.pem": {
        cn: "Microsoft RSA Root Certificate Authority 2017",
        sha256: "C7:41:F7:0F:4B:2A:8D:88:BF:2E:71:C1:41:22:EF:53:EF:10:EB:A0:CF:A5:E6:4C:FA:20:F4:18:85:30:73:E0",
        validTo: "2042-07-18T23:00:23.000Z",
    },
}

describe("Azure public roots in certs/azure", () => {
    for (const file of AZURE_ROOT_CAS) {
        const name = path.basename(file)
        it(`${name} is the expected root, self-signed, valid until its pinned date`, () => {
            const cert = new crypto.X509Certificate(fs.readFileSync(file))
            assert.strictEqual(cert.fingerprint256, EXPECTED[name].sha256)
            assert.match(cert.subject, new RegExp(`CN=${EXPECTED[name].cn}$`, "m"))
            assert.ok(cert.ca)
            assert.ok(cert.verify(cert.publicKey))
            assert.strictEqual(new Date(cert.validTo).toISOString(), EXPECTED[name].validTo)
        })
    }
    it("holds exactly those roots, not the expired Baltimore CyberTrust Root", () => {
        const files = fs.readdirSync(path.join(ROOT, "certs", "azure")).filter((f) => f.endsWith(".pem"))
        assert.deepStrictEqual(files.sort(), Object.keys(EXPECTED).sort())
        for (const f of files) assert.doesNotMatch(new crypto.X509Certificate(fs.readFileSync(path.join(ROOT, "certs", "azure", f))).subject, /Baltimore/)
    })
})
