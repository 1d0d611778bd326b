// The X.509 checks as plain functions (auth/x509.ts) and the CA store's proof of possession (state/ca-store.ts).
import * as assert from "assert"
import { createHash } from "crypto"
import { CaStore, CaStoreError } from "../../sim/emulator/state/ca-store"
import { x509BuildChain, x509CommonName, x509MatchesThumbprint, x509ParsePem, x509Thumbprints, x509ValidityProblem } from "../../sim/emulator/auth/x509"
import { CertifiedKey, createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki/certificates"
import { DAY_MS, expired, nodeCert, pem, withoutCommonName } from "./x509-fixtures"

describe("X.509 checks", () => {
    let root: CertifiedKey
    let intermediate: CertifiedKey
    let leaf: CertifiedKey
    const now = () => new Date()

    before(async () => {
        root = await createRootCa({ commonName: "Unit Root" })
        intermediate = await issueIntermediateCa(root, { commonName: "Unit Intermediate" })
        leaf = await issueClientCert(intermediate, { commonName: "unit-dev-01" })
    })

    it("reads the CN and every certificate of a PEM bundle", () => {
        const certs = x509ParsePem(pem(leaf) + pem(intermediate))
        assert.deepStrictEqual(certs.map(x509CommonName), ["unit-dev-01", "Unit Intermediate"])
        assert.throws(() => x509ParsePem("not a certificate"), /no PEM certificate/)
    })

    it("reads the CN among other subject fields", async () => {
        // The PKI writes `CN=<commonName>`: this one makes the subject CN, O, OU.
        const named = await issueClientCert(intermediate, { commonName: "unit-dev-03, O=Contoso, OU=Line 2" })
        assert.deepStrictEqual([nodeCert(named).subject.split("\n").length, x509CommonName(nodeCert(named))], [3, "unit-dev-03"])
    })

    it("gives SHA-1 and SHA-256 thumbprints in upper hex and matches them in any usual spelling", () => {
        const c = nodeCert(leaf)
        const t = x509Thumbprints(c)
        assert.strictEqual(t.sha1, createHash("sha1").update(c.raw).digest("hex").toUpperCase())
        assert.match(t.sha256, /^[0-9A-F]{64}$/)
        assert.ok(x509MatchesThumbprint(c, t.sha1.toLowerCase()))
        assert.ok(x509MatchesThumbprint(c, t.sha256.match(/../g)!.join(":")))
        assert.ok(!x509MatchesThumbprint(nodeCert(intermediate), t.sha1))
    })

    it("builds leaf -> intermediate -> root when the intermediate is presented, and leaf -> root directly", async () => {
        const r = x509BuildChain([nodeCert(leaf), nodeCert(intermediate)], [nodeCert(root)], now())
        assert.ok(r.ok, JSON.stringify(r))
        assert.deepStrictEqual(r.path.map(x509CommonName), ["unit-dev-01", "Unit Intermediate", "Unit Root"])
        assert.ok(!x509BuildChain([nodeCert(leaf)], [nodeCert(root)], now()).ok)
        const direct = await issueClientCert(root, { commonName: "unit-dev-02" })
        const d = x509BuildChain([nodeCert(direct)], [nodeCert(root)], now())
        assert.ok(d.ok)
        assert.deepStrictEqual(d.path.map(x509CommonName), ["unit-dev-02", "Unit Root"])
    })

    it("stops at the nearest trust point up from the leaf", () => {
        const r = x509BuildChain([nodeCert(leaf), nodeCert(intermediate)], [nodeCert(root), nodeCert(intermediate)], now())
        assert.ok(r.ok)
        assert.strictEqual(x509CommonName(r.anchor), "Unit Intermediate")
    })

    it("names the unknown issuer when the chain reaches no trust point", async () => {
        const stranger = await createRootCa({ commonName: "Stranger Root" })
        const r = x509BuildChain([nodeCert(leaf)], [nodeCert(stranger)], now())
        assert.ok(!r.ok)
        assert.strictEqual(r.unknownIssuer, "CN=Unit Intermediate")
        assert.match(r.reason, /"unit-dev-01" was issued by "CN=Unit Intermediate"/)
    })

    it("refuses an expired leaf and an expired intermediate with the date", async () => {
        const old = await issueClientCert(intermediate, { commonName: "old-dev", ...expired() })
        assert.match(x509ValidityProblem(nodeCert(old), now())!, /"old-dev" expired on/)
        const early = await issueClientCert(intermediate, {
            commonName: "early-dev",
            notBefore: new Date(Date.now() + DAY_MS),
            notAfter: new Date(Date.now() + 9 * DAY_MS),
        })
        assert.match(x509ValidityProblem(nodeCert(early), now())!, /"early-dev" is not valid before/)
        const r1 = x509BuildChain([nodeCert(old)], [nodeCert(root)], now())
        assert.ok(!r1.ok && /expired/.test(r1.reason))

        const oldIntermediate = await issueIntermediateCa(root, { commonName: "Old Intermediate", ...expired() })
        const child = await issueClientCert(oldIntermediate, {
            commonName: "child-dev",
            notBefore: new Date(Date.now() - 20 * DAY_MS),
            notAfter: new Date(Date.now() + DAY_MS),
        })
        const r2 = x509BuildChain([nodeCert(child), nodeCert(oldIntermediate)], [nodeCert(root)], now())
        assert.ok(!r2.ok)
        assert.match(r2.reason, /"Old Intermediate" expired/)
    })

    it("refuses a chain through an issuer that is not a CA", async () => {
        const notCa = await issueClientCert(root, { commonName: "Not A CA" })
        const signed = await issueClientCert(notCa, { commonName: "signed-by-leaf" })
        const r = x509BuildChain([nodeCert(signed), nodeCert(notCa)], [nodeCert(root)], now())
        assert.ok(!r.ok)
        assert.match(r.reason, /CN=Not A CA is not a CA certificate/)
    })

    it("holds a certificate valid from its notBefore instant up to, not including, its notAfter", () => {
        const c = nodeCert(leaf)
        const from = Date.parse(c.validFrom)
        const to = Date.parse(c.validTo)
        assert.strictEqual(x509ValidityProblem(c, new Date(from)), undefined)
        assert.match(x509ValidityProblem(c, new Date(from - 1000))!, /not valid before/)
        assert.strictEqual(x509ValidityProblem(c, new Date(to - 1000)), undefined)
        assert.match(x509ValidityProblem(c, new Date(to))!, /expired/)
    })

    it("refuses a certificate that names a trusted CA as issuer but was signed by another key, and an empty chain", async () => {
        const impostor = await createRootCa({ commonName: "Unit Root" })
        const forged = await issueClientCert(impostor, { commonName: "forged-dev" })
        assert.strictEqual(nodeCert(forged).issuer, nodeCert(root).subject)
        const r = x509BuildChain([nodeCert(forged)], [nodeCert(root)], now())
        assert.ok(!r.ok)
        assert.strictEqual(r.unknownIssuer, "CN=Unit Root")
        assert.deepStrictEqual(x509BuildChain([], [nodeCert(root)], now()), { ok: false, reason: "no client certificate was presented" })
    })

    it("takes a self-signed device certificate as its own trust point", async () => {
        const self = await issueClientCert(undefined, { commonName: "self-dev" })
        const r = x509BuildChain([nodeCert(self)], [nodeCert(self)], now())
        assert.ok(r.ok)
        assert.strictEqual(r.path.length, 1)
        assert.ok(!x509BuildChain([nodeCert(self)], [nodeCert(root)], now()).ok)
    })
})

describe("CA store (proof of possession)", () => {
    let root: CertifiedKey
    let other: CertifiedKey
    let store: CaStore
    const refused = (re: RegExp) => (e: unknown) => e instanceof CaStoreError && e.status === 400 && re.test(e.message)

    before(async () => {
        root = await createRootCa({ commonName: "Store Root" })
        other = await createRootCa({ commonName: "Other Root" })
    })
    beforeEach(() => (store = new CaStore()))

    it("takes names of 1-256 letters, digits, dots, dashes and underscores, and one CA certificate of valid PEM", async () => {
        const name = "Fleet_Root-1.a".padEnd(256, "x")
        assert.strictEqual(store.upload(name, pem(root)).name, name)
        for (const bad of ["", name + "x", "fleet root", "fleet/root", "-fleet root", "fleet root-"])
            assert.throws(() => store.upload(bad, pem(root)), refused(/must be 1-256 of/), JSON.stringify(bad))
        assert.throws(() => store.upload("fleet", "not a certificate"), refused(/no PEM certificate/))
        assert.throws(() => store.upload("fleet", pem(root) + pem(other)), refused(/upload one certificate, not 2/))
        const missing = (e: unknown) => e instanceof CaStoreError && e.status === 404
        assert.throws(() => store.generateVerificationCode("nothing"), missing)
        assert.throws(() => store.verify("nothing", pem(root)), missing)
    })

    it("keeps when a CA was first uploaded when it is replaced, and whether it is verified as the replacement says", () => {
        let clock = new Date("2026-06-01T00:00:00Z")
        const timed = new CaStore(() => clock)
        timed.upload("fleet", pem(root), true)
        clock = new Date("2026-06-02T00:00:00Z")
        const replaced = timed.upload("FLEET", pem(other))
        assert.deepStrictEqual(
            [replaced.created, replaced.updated, replaced.isVerified, replaced.subject],
            ["2026-06-01T00:00:00.000Z", "2026-06-02T00:00:00.000Z", false, "CN=Other Root"]
        )
        assert.deepStrictEqual(
            timed.list().map((c) => c.name),
            ["FLEET"]
        )
    })

    it("verifies with the code in any case, and not with an expired proof", async () => {
        store.upload("fleet", pem(root))
        const { verificationCode } = store.generateVerificationCode("fleet")
        const old = await issueClientCert(root, { commonName: verificationCode, ...expired() })
        assert.throws(() => store.verify("fleet", pem(old)), refused(/^verification .*expired/))
        const nameless = (await withoutCommonName()).toString()
        assert.throws(() => store.verify("fleet", nameless), refused(/CN undefined is not the verification code/))
        assert.ok(store.verify("fleet", pem(await issueClientCert(root, { commonName: verificationCode.toLowerCase() }))).isVerified)
    })

    it("refuses a certificate that is not a CA", async () => {
        const device = await issueClientCert(root, { commonName: "dev" })
        assert.throws(() => store.upload("dev", pem(device)), refused(/not a CA certificate/))
    })

    it("refuses proofs without a code, with the wrong CN or from the wrong key, then verifies and spends the code", async () => {
        store.upload("fleet", pem(root))
        const proof = async (issuer: CertifiedKey, cn: string) => pem(await issueClientCert(issuer, { commonName: cn }))
        assert.throws(() => store.verify("fleet", "x"), refused(/no verification code/))
        const { verificationCode } = store.generateVerificationCode("fleet")
        assert.throws(() => store.verify("fleet", "x"), refused(/no PEM certificate/))
        assert.throws(() => store.verify("fleet", ""), refused(/no PEM/))
        const wrongCn = await proof(root, "not-the-code")
        assert.throws(() => store.verify("fleet", wrongCn), refused(/not the verification code/))
        const wrongKey = await proof(other, verificationCode)
        assert.throws(() => store.verify("fleet", wrongKey), refused(/not signed by the private key/))
        assert.deepStrictEqual(store.verifiedCertificates(), [])
        assert.strictEqual(store.verify("fleet", await proof(root, verificationCode)).isVerified, true)
        assert.strictEqual(x509CommonName(store.verifiedCertificates()[0]), "Store Root")
        assert.throws(() => store.verify("fleet", wrongCn), refused(/no verification code/))
    })
})
