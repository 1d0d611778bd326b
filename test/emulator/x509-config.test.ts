// The X.509 parts of the emulator configuration: CA certificates uploaded at start, X.509
// enrollments (individual certificate or thumbprint, group CA by name or intermediate) and X.509
// device identities; keys are neither generated nor required for them; every problem named at once.
import * as assert from "assert"
import * as fs from "fs"
import * as path from "path"
import { Emulator } from "../../sim/emulator"
import { ConfigError, EmulatorConfig, enrollmentsWithoutKeys, generateMissingKeys, validateConfig } from "../../sim/emulator/config"
import { x509CommonName, x509Thumbprints } from "../../sim/emulator/auth/x509"
import { CertifiedKey, createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki/certificates"
import { tempDir } from "../support/emulator"
import { nodeCert, pem } from "./x509-fixtures"

describe("emulator configuration: X.509", () => {
    let root: CertifiedKey
    let intermediate: CertifiedKey
    let device: CertifiedKey
    let dir: string
    const base = { tls: { cert: "c.pem", key: "k.pem" }, dps: { idScope: "0ne00000A0A" }, hubs: [{ hostName: "localhost" }] }

    before(async () => {
        root = await createRootCa({ commonName: "Config Root" })
        intermediate = await issueIntermediateCa(root, { commonName: "Config Intermediate" })
        device = await issueClientCert(intermediate, { commonName: "cfg-dev" })
        dir = tempDir("x509-config")
        fs.writeFileSync(path.join(dir, "root.pem"), pem(root))
        // A chain file, as the certificate tool writes it: the device's certificate first.
        fs.writeFileSync(path.join(dir, "cfg-dev_chain.pem"), pem(device) + pem(intermediate))
    })

    function valid(): EmulatorConfig {
        const sha1 = x509Thumbprints(nodeCert(device)).sha1
        return validateConfig(
            {
                ...base,
                certificates: [{ name: "fleet-root", cert: "root.pem", verified: true }],
                enrollments: [
                    { registrationId: "cfg-dev", attestation: { type: "x509", certificate: "cfg-dev_chain.pem" } },
                    { registrationId: "cfg-thumb", attestation: { type: "x509", thumbprint: sha1.toLowerCase().match(/../g)!.join(":") } },
                    { enrollmentGroupId: "g-root", attestation: { type: "x509", caCertificate: "fleet-root" } },
                    { enrollmentGroupId: "g-intermediate", attestation: { type: "x509", certificate: pem(intermediate) } },
                    { enrollmentGroupId: "g-sas", attestation: { type: "symmetricKey" } },
                ],
                devices: [
                    { deviceId: "d-self", authentication: { type: "selfSigned", primaryThumbprint: sha1 } },
                    { deviceId: "d-ca", authentication: { type: "certificateAuthority" } },
                    { deviceId: "d-sas" },
                ],
            },
            dir
        )
    }

    it("reads CA certificates, X.509 enrollments and X.509 devices from PEM text or files next to the config", () => {
        const c = valid()
        assert.deepStrictEqual(
            c.certificates.map((x) => [x.name, x.verified]),
            [["fleet-root", true]]
        )
        const [byCert, byThumb, byName, byIntermediate] = c.enrollments.map((e) => e.attestation)
        assert.ok(byCert.type === "x509" && "primary" in byCert && "certificate" in byCert.primary)
        assert.strictEqual(x509CommonName(byCert.primary.certificate), "cfg-dev")
        assert.deepStrictEqual(byThumb.type === "x509" && "primary" in byThumb && byThumb.primary, { thumbprint: x509Thumbprints(nodeCert(device)).sha1 })
        assert.deepStrictEqual(byName.type === "x509" && "ca" in byName && byName.ca, { caName: "fleet-root" })
        assert.ok(byIntermediate.type === "x509" && "ca" in byIntermediate && "certificate" in byIntermediate.ca)
        assert.deepStrictEqual(
            c.devices.map((d) => d.authentication.type),
            ["selfSigned", "certificateAuthority", "sas"]
        )
    })

    it("generates and requires keys only for SAS enrollments and devices", () => {
        const c = valid()
        assert.deepStrictEqual(enrollmentsWithoutKeys(c), ["g-sas", "devices/d-sas"])
        const secretsFile = path.join(dir, "secrets.json")
        const completed = generateMissingKeys(c, secretsFile)
        assert.deepStrictEqual(Object.keys(JSON.parse(fs.readFileSync(secretsFile, "utf8"))).sort(), ["$iothubowner", "devices/d-sas", "g-sas"])
        assert.deepStrictEqual(enrollmentsWithoutKeys(completed), [])
        // Starts with the CA uploaded as configured (verified).
        assert.strictEqual(new Emulator(completed).dps.getCaCertificate("fleet-root").isVerified, true)
    })

    it("names every X.509 problem at once", async () => {
        const other = await issueClientCert(undefined, { commonName: "someone-else" })
        const bad = {
            ...base,
            certificates: [
                { name: "dev-as-ca", cert: pem(device) },
                { name: "twice", cert: pem(root) },
                { name: "twice", cert: pem(root) },
                { name: "missing", cert: "nowhere.pem" },
            ],
            enrollments: [
                { registrationId: "no-cert", attestation: { type: "x509" } },
                { registrationId: "wrong-cn", attestation: { type: "x509", certificate: pem(other) } },
                { registrationId: "both", attestation: { type: "x509", certificate: pem(other), thumbprint: "AB".repeat(20) } },
                { registrationId: "bad-thumb", attestation: { type: "x509", thumbprint: "XYZ" } },
                { registrationId: "keyed", attestation: { type: "x509", thumbprint: "AB".repeat(32), primaryKey: "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=" } },
                { enrollmentGroupId: "g-root-direct", attestation: { type: "x509", certificate: pem(root) } },
                { enrollmentGroupId: "g-leaf", attestation: { type: "x509", certificate: pem(device) } },
                { enrollmentGroupId: "g-none", attestation: { type: "x509" } },
            ],
            devices: [
                { deviceId: "d1", authentication: { type: "selfSigned" } },
                { deviceId: "d2", authentication: { type: "certificateAuthority" }, primaryKey: "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=" },
                { deviceId: "d3", authentication: { type: "password" } },
            ],
        }
        assert.throws(
            () => validateConfig(bad, dir),
            (e: Error) => {
                assert.ok(e instanceof ConfigError)
                for (const needle of [
                    "certificates[0]: certificate dev-as-ca is not a CA certificate",
                    "certificates[2]: name twice is used twice",
                    "certificates[3].cert: cannot read nowhere.pem",
                    "enrollments[0].attestation: needs a certificate (PEM or path) or a thumbprint",
                    'enrollments[1].attestation: certificate CN "someone-else" is not the registration id wrong-cn',
                    "enrollments[2].attestation: give certificate or thumbprint, not both",
                    "enrollments[3].attestation.thumbprint: must be a SHA-1 (40) or SHA-256 (64) hex thumbprint",
                    "enrollments[4].attestation.primaryKey: must be left out: an x509 attestation has no keys",
                    "enrollments[5].attestation.certificate: is a root CA; add it to certificates and name it in caCertificate",
                    "enrollments[6].attestation.certificate: is not a CA certificate",
                    "enrollments[7].attestation: needs caCertificate (a name in certificates) or certificate",
                    "devices[0].authentication.primaryThumbprint: must be a SHA-1 (40) or SHA-256 (64) hex thumbprint",
                    "devices[1]: keys are for SAS devices (authentication certificateAuthority)",
                    "devices[2].authentication.type: must be sas, selfSigned or certificateAuthority",
                ])
                    assert.ok(e.message.includes(needle), `${needle} missing in: ${e.message}`)
                return true
            }
        )
    })
})
