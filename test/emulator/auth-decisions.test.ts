// Who may connect, decided without a network: the DPS and IoT Hub CONNECT checks as plain functions
// over a configuration, a registry and a clock. Each case is one credential a device (or an
// attacker) could present; what matters is the decision, and that a malformed one is refused, not thrown.
import * as assert from "assert"
import { X509Certificate } from "crypto"
import { dpsAuthenticate } from "../../sim/emulator/auth/dps-auth"
import { DpsX509Result, dpsAuthenticateX509 } from "../../sim/emulator/auth/dps-x509-auth"
import { HubAuthContext, hubAuthenticate } from "../../sim/emulator/auth/hub-auth"
import { SAS_SKEW_SEC, sasBuildToken, sasDeriveDeviceKey, sasParse, sasSign, sasVerify } from "../../sim/emulator/auth/sas"
import { X509_MAX_CN_LENGTH, x509CommonName, x509Thumbprints } from "../../sim/emulator/auth/x509"
import { EmulatorConfig, enrollmentId, validateConfig } from "../../sim/emulator/config"
import { CertifiedKey, createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki/certificates"
import { CaStore } from "../../sim/emulator/state/ca-store"
import { HubRegistry } from "../../sim/emulator/state/hub-registry"
import { ID_SCOPE, randomKey } from "../support/emulator"
import { expired, nodeCert, pem, withoutCommonName } from "./x509-fixtures"

const NOW = new Date("2026-06-01T00:00:00Z")
const NOW_SEC = NOW.getTime() / 1000
const SE = NOW_SEC + 3600

describe("CONNECT decisions", () => {
    describe("DPS", () => {
        const individualKey = randomKey()
        const groupKey = randomKey()
        const groupSecondary = randomKey()
        const config = validateConfig({
            tls: { cert: "s.pem", key: "s.key" },
            dps: { idScope: ID_SCOPE },
            hubs: [{ hostName: "hub.local" }],
            enrollments: [
                { registrationId: "dev-1", attestation: { type: "symmetricKey", primaryKey: individualKey } },
                { registrationId: "cert-dev", attestation: { type: "x509", thumbprint: "AB".repeat(20) } },
                { enrollmentGroupId: "x509-group", attestation: { type: "x509", caCertificate: "not-uploaded" } },
                { enrollmentGroupId: "fleet", attestation: { type: "symmetricKey", primaryKey: groupKey, secondaryKey: groupSecondary } },
            ],
        })
        const user = (id: string, scope = ID_SCOPE) => `${scope}/registrations/${id}/api-version=2021-06-01`
        const token = (id: string, key: string, skn: string | undefined = "registration", scope = ID_SCOPE) =>
            sasBuildToken(`${scope}/registrations/${id}`, SE, key, skn)
        const connect = (clientId: string, username: string | undefined, password?: string) =>
            dpsAuthenticate({ clientId, username, password: password === undefined ? undefined : Buffer.from(password) }, [], config, new CaStore(), NOW)

        it("admits an individual enrollment's key and a group device's derived keys, with or without skn", () => {
            const ind = connect("dev-1", user("dev-1"), token("dev-1", individualKey))
            assert.ok(ind.ok && ind.enrollment.kind === "individual" && ind.credential.kind === "symmetricKey" && ind.credential.key === "primary")
            assert.ok(connect("dev-1", user("dev-1"), token("dev-1", individualKey, undefined)).ok, "a token without skn")
            // The X.509 group listed first is skipped, not asked for keys it does not have.
            const g = connect("fleet-7", user("fleet-7"), token("fleet-7", sasDeriveDeviceKey(groupSecondary, "fleet-7")))
            assert.ok(g.ok && g.enrollment.kind === "group" && g.credential.kind === "symmetricKey" && g.credential.key === "secondary")
            const scopeCase = connect("dev-1", user("dev-1", ID_SCOPE.toLowerCase()), token("dev-1", individualKey, "registration", ID_SCOPE.toLowerCase()))
            assert.ok(scopeCase.ok, "the ID scope is not case-sensitive")
        })

        it("refuses a missing or foreign user name, another ID scope, another key name and a malformed token", () => {
            const refusals: [string, string | undefined, string | undefined][] = [
                ["no user name", undefined, token("dev-1", individualKey)],
                ["a hub user name", "hub.local/dev-1/?api-version=2021-04-12", token("dev-1", individualKey)],
                ["another ID scope", user("dev-1", "0ne00000B0B"), token("dev-1", individualKey, "registration", "0ne00000B0B")],
                ["skn other than registration", user("dev-1"), token("dev-1", individualKey, "iothubowner")],
                ["a malformed token", user("dev-1"), "SharedAccessSignature sr=x"],
                ["the group key itself for a group device", user("fleet-7"), token("fleet-7", groupKey)],
                ["a key that signs nothing enrolled", user("stranger"), token("stranger", randomKey())],
                ["a SAS token for an X.509 individual enrollment", user("cert-dev"), token("cert-dev", individualKey)],
                // Only groups derive device keys: an individual enrollment's key admits no other id.
                ["a key derived from an individual enrollment's key", user("stranger"), token("stranger", sasDeriveDeviceKey(individualKey, "stranger"))],
            ]
            for (const [what, username, password] of refusals) {
                const r = connect(username?.split("/")[2] ?? "dev-1", username, password)
                assert.strictEqual(r.ok, false, what)
            }
        })
    })

    describe("DPS X.509", () => {
        let root: CertifiedKey
        let intermediate: CertifiedKey
        let config: EmulatorConfig
        let certificates: CaStore
        const chain = (leaf: CertifiedKey, ...issuers: CertifiedKey[]) => [leaf, ...issuers].map(nodeCert)
        const decide = (registrationId: string, presented: X509Certificate[]) =>
            dpsAuthenticateX509(registrationId, presented, config, certificates, new Date())
        const chosen = (r: DpsX509Result) => (r.ok ? enrollmentId(r.enrollment) : `refused: ${r.reason}`)
        const issue = (issuer: CertifiedKey | undefined, commonName: string) => issueClientCert(issuer, { commonName })
        let ind: { primary: CertifiedKey; secondary: CertifiedKey }
        let oldInd: CertifiedKey

        before(async () => {
            root = await createRootCa({ commonName: "Decision Root" })
            intermediate = await issueIntermediateCa(root, { commonName: "Decision Intermediate" })
            ind = { primary: await issue(undefined, "x-ind"), secondary: await issue(undefined, "x-ind") }
            oldInd = await issueClientCert(undefined, { commonName: "x-old-ind", ...expired() })
            config = validateConfig({
                tls: { cert: "s.pem", key: "s.key" },
                dps: { idScope: ID_SCOPE },
                hubs: [{ hostName: "hub.local" }],
                enrollments: [
                    {
                        registrationId: "x-ind",
                        attestation: { type: "x509", certificate: pem(ind.primary), secondaryThumbprint: x509Thumbprints(nodeCert(ind.secondary)).sha1 },
                    },
                    { registrationId: "x-old-ind", attestation: { type: "x509", thumbprint: x509Thumbprints(nodeCert(oldInd)).sha1 } },
                    { registrationId: "sym-dev", attestation: { type: "symmetricKey", primaryKey: randomKey() } },
                    // Listed first: a group with keys and one whose CA was never uploaded are passed over.
                    { enrollmentGroupId: "keys", attestation: { type: "symmetricKey", primaryKey: randomKey() } },
                    { enrollmentGroupId: "missing-group", attestation: { type: "x509", caCertificate: "never-uploaded" } },
                    { enrollmentGroupId: "root-group", attestation: { type: "x509", caCertificate: "decision-root" } },
                    { enrollmentGroupId: "inter-group", attestation: { type: "x509", certificate: pem(intermediate) } },
                ],
            })
        })
        beforeEach(() => {
            certificates = new CaStore()
            certificates.upload("Decision-Root", pem(root), true)
        })

        it("picks the group of the nearest enrolled CA up the presented chain, the CN naming the device in any case", async () => {
            const viaIntermediate = await issue(intermediate, "x-dev-1")
            const r = decide("X-DEV-1", chain(viaIntermediate, intermediate))
            assert.strictEqual(chosen(r), "inter-group")
            assert.ok(r.ok && r.anchor && x509CommonName(r.anchor) === "Decision Intermediate" && x509CommonName(r.leaf) === "x-dev-1")
            const direct = await issue(root, "x-dev-2")
            assert.strictEqual(chosen(decide("x-dev-2", chain(direct))), "root-group")
        })

        it("admits through a CA uploaded by name only once it is verified", async () => {
            const direct = chain(await issue(root, "x-dev-2"))
            certificates.upload("decision-root", pem(root))
            assert.match(chosen(decide("x-dev-2", direct)), /^refused: CA certificate decision-root of enrollment group root-group is not verified/)
            assert.ok(certificates.delete("decision-root"))
            assert.match(chosen(decide("x-dev-2", direct)), /^refused: certificate chain does not lead to an enrolled CA/)
        })

        it("refuses a leaf whose CN is not the registration id, is too long, or is not valid now, and an empty chain", async () => {
            const long = "x".repeat(X509_MAX_CN_LENGTH + 1)
            const refusals: [string, string, X509Certificate[]][] = [
                ["another CN", "x-dev-9", chain(await issue(intermediate, "x-dev-1"), intermediate)],
                ["a CN too long", long, chain(await issue(intermediate, long), intermediate)],
                ["an expired leaf", "x-old", chain(await issueClientCert(intermediate, { commonName: "x-old", ...expired() }), intermediate)],
                ["no certificate", "x-dev-1", []],
                ["a certificate without a CN", "x-dev-1", [await withoutCommonName()]],
            ]
            for (const [what, registrationId, presented] of refusals) assert.strictEqual(decide(registrationId, presented).ok, false, what)
            const longest = "x".repeat(X509_MAX_CN_LENGTH)
            assert.strictEqual(chosen(decide(longest, chain(await issue(intermediate, longest), intermediate))), "inter-group")
        })

        it("lets an individual enrollment decide alone: either of its certificates, never a group's CA", async () => {
            const r = decide("x-ind", chain(ind.primary))
            assert.ok(r.ok && r.enrollment.kind === "individual" && r.anchor === undefined)
            assert.strictEqual(chosen(decide("x-ind", chain(ind.secondary))), "x-ind")
            assert.match(chosen(decide("x-old-ind", chain(oldInd))), /^refused: .*expired/, "its own certificate, expired")
            assert.match(chosen(decide("x-ind", chain(await issue(intermediate, "x-ind"), intermediate))), /^refused: .*matches neither certificate/)
            assert.match(chosen(decide("sym-dev", chain(await issue(intermediate, "sym-dev"), intermediate))), /^refused: .*symmetric key/)
        })
    })

    describe("IoT Hub", () => {
        const keys = { primaryKey: randomKey(), secondaryKey: randomKey() }
        const policyKey = randomKey()
        const registry = new HubRegistry(1 << 20)
        registry.assignDevice("dev-a", "hub-a.local", { type: "sas", keys }, NOW)
        registry.assignDevice("dev-off", "hub-a.local", { type: "sas", keys }, NOW, "disabled")
        registry.assignDevice("dev-b", "hub-b.local", { type: "sas", keys }, NOW)
        const ctx: HubAuthContext = {
            hubs: ["hub-a.local", "hub-b.local"],
            registry,
            certificates: new CaStore(),
            now: NOW,
            skewSec: SAS_SKEW_SEC,
            policiesOf: (hub) =>
                hub === "hub-a.local"
                    ? [
                          { keyName: "connector", rights: ["DeviceConnect"], primaryKey: policyKey },
                          { keyName: "reader", rights: ["RegistryRead"], primaryKey: policyKey },
                      ]
                    : [],
        }
        const token = (sr: string, key = keys.primaryKey, skn?: string, se = SE) => sasBuildToken(sr, se, key, skn)
        const connect = (clientId: string, username: string | undefined, password?: string) =>
            hubAuthenticate({ clientId, username, password: password === undefined ? undefined : Buffer.from(password) }, [], ctx)

        it("admits the device's own keys and a DeviceConnect policy, and drops the session when the token plus skew runs out", () => {
            const r = connect("dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", token("hub-a.local%2Fdevices%2Fdev-a"))
            assert.ok(r.ok)
            assert.deepStrictEqual([r.key, r.policy, r.expiresAtSec], ["primary", undefined, SE + SAS_SKEW_SEC])
            const s = connect("dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", token("hub-a.local:8883/devices/dev-a", keys.secondaryKey))
            assert.ok(s.ok && s.key === "secondary")
            const p = connect("dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", token("hub-a.local%2Fdevices%2Fdev-a", policyKey, "connector"))
            assert.ok(p.ok && p.policy === "connector")
        })

        it("refuses what names another device, hub or module, or that no key of this hub signed", () => {
            const refusals: [string, string, string | undefined, string | undefined][] = [
                ["no user name", "dev-a", undefined, token("hub-a.local%2Fdevices%2Fdev-a")],
                ["a malformed user name", "dev-a", "hub-a.local", token("hub-a.local%2Fdevices%2Fdev-a")],
                ["a module of the device", "dev-a", "hub-a.local/dev-a/mod-1/?api-version=2021-04-12", token("hub-a.local%2Fdevices%2Fdev-a")],
                ["a module whose id holds `=`, before `?`", "dev-a", "hub-a.local/dev-a/m=1/?api-version=2021-04-12", token("hub-a.local%2Fdevices%2Fdev-a")],
                [
                    "a device of another hub, signed with its own key",
                    "dev-b",
                    "hub-a.local/dev-b/?api-version=2021-04-12",
                    token("hub-a.local%2Fdevices%2Fdev-b"),
                ],
                ["a disabled device", "dev-off", "hub-a.local/dev-off/?api-version=2021-04-12", token("hub-a.local%2Fdevices%2Fdev-off")],
                ["a token for a module of the device", "dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", token("hub-a.local/devices/dev-a/modules/m")],
                ["a token for a longer path ending in the device", "dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", token("x/hub-a.local/devices/dev-a")],
                [
                    "an sr that is not percent-encoded correctly",
                    "dev-a",
                    "hub-a.local/dev-a/?api-version=2021-04-12",
                    token("hub-a.local%2Fdevices%2Fdev-a%E0"),
                ],
                ["a malformed token", "dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", "SharedAccessSignature sr=hub-a.local%2Fdevices%2Fdev-a"],
                [
                    "a policy without DeviceConnect",
                    "dev-a",
                    "hub-a.local/dev-a/?api-version=2021-04-12",
                    token("hub-a.local%2Fdevices%2Fdev-a", policyKey, "reader"),
                ],
                [
                    "a policy the hub does not have",
                    "dev-b",
                    "hub-b.local/dev-b/?api-version=2021-04-12",
                    token("hub-b.local%2Fdevices%2Fdev-b", policyKey, "connector"),
                ],
                ["no password and no certificate", "dev-a", "hub-a.local/dev-a/?api-version=2021-04-12", undefined],
            ]
            for (const [what, clientId, username, password] of refusals) {
                const r = connect(clientId, username, password)
                assert.strictEqual(r.ok, false, what)
            }
        })
    })

    describe("IoT Hub X.509", () => {
        let root: CertifiedKey
        let intermediate: CertifiedKey
        let ctx: HubAuthContext
        const issue = (issuer: CertifiedKey | undefined, commonName: string) => issueClientCert(issuer, { commonName })
        const connect = (deviceId: string, ...presented: CertifiedKey[]) =>
            hubAuthenticate({ clientId: deviceId, username: `hub.local/${deviceId}/?api-version=2021-04-12` }, presented.map(nodeCert), ctx)
        const self: Record<string, CertifiedKey> = {}
        const sasKey = randomKey()

        before(async () => {
            root = await createRootCa({ commonName: "Hub Decision Root" })
            intermediate = await issueIntermediateCa(root, { commonName: "Hub Decision Intermediate" })
            for (const name of ["primary", "secondary", "stranger"]) self[name] = await issue(undefined, "self-dev")
            for (const name of ["one", "notOne"]) self[name] = await issue(undefined, "one-print")
            self.old = await issueClientCert(undefined, { commonName: "old-dev", ...expired() })
            const registry = new HubRegistry(1 << 20)
            const thumbprint = (ck: CertifiedKey) => x509Thumbprints(nodeCert(ck)).sha1
            registry.assignDevice(
                "self-dev",
                "hub.local",
                { type: "selfSigned", primaryThumbprint: thumbprint(self.primary), secondaryThumbprint: x509Thumbprints(nodeCert(self.secondary)).sha256 },
                NOW
            )
            registry.assignDevice("one-print", "hub.local", { type: "selfSigned", primaryThumbprint: thumbprint(self.one) }, NOW)
            registry.assignDevice("old-dev", "hub.local", { type: "selfSigned", primaryThumbprint: thumbprint(self.old) }, NOW)
            registry.assignDevice("ca-dev", "hub.local", { type: "certificateAuthority", ca: nodeCert(intermediate) }, NOW)
            registry.assignDevice("ca-off", "hub.local", { type: "certificateAuthority", ca: nodeCert(intermediate) }, NOW, "disabled")
            registry.assignDevice("sas-dev", "hub.local", { type: "sas", keys: { primaryKey: sasKey } }, NOW)
            ctx = { hubs: ["hub.local"], registry, certificates: new CaStore(), now: new Date(), skewSec: SAS_SKEW_SEC }
        })

        it("admits a self-signed device by either thumbprint, and a CA device by its chain", async () => {
            const p = connect("self-dev", self.primary)
            assert.ok(p.ok && p.thumbprint === x509Thumbprints(nodeCert(self.primary)).sha1)
            assert.ok(connect("self-dev", self.secondary).ok, "the secondary thumbprint")
            assert.ok(connect("one-print", self.one).ok, "a device without a secondary")
            assert.ok(connect("ca-dev", await issue(intermediate, "ca-dev")).ok)
        })

        it("refuses another certificate, an expired one, an unknown or disabled device, a SAS device and a chain to an untrusted CA", async () => {
            const refusals: [string, string, CertifiedKey[]][] = [
                ["a certificate of neither thumbprint", "self-dev", [self.stranger]],
                ["another certificate of a device with one thumbprint", "one-print", [self.notOne]],
                ["an expired certificate with the enrolled thumbprint", "old-dev", [self.old]],
                ["an unknown device", "nobody", [await issue(intermediate, "nobody")]],
                ["a disabled device", "ca-off", [await issue(intermediate, "ca-off")]],
                ["a device with SAS keys", "sas-dev", [await issue(intermediate, "sas-dev")]],
                ["a chain to a CA the hub does not trust", "ca-dev", [await issue(root, "ca-dev")]],
            ]
            for (const [what, deviceId, presented] of refusals) assert.strictEqual(connect(deviceId, ...presented).ok, false, what)
        })

        it("refuses, in a hub without shared access policies, a token that names one", () => {
            const password = (skn?: string) => Buffer.from(sasBuildToken("hub.local/devices/sas-dev", SE, sasKey, skn))
            const user = { clientId: "sas-dev", username: "hub.local/sas-dev/?api-version=2021-04-12" }
            assert.ok(hubAuthenticate({ ...user, password: password() }, [], { ...ctx, now: NOW }).ok)
            assert.strictEqual(hubAuthenticate({ ...user, password: password("connector") }, [], { ...ctx, now: NOW }).ok, false)
        })
    })

    describe("SAS tokens", () => {
        const key = randomKey()
        const resource = { resource: "h/devices/d", skn: null }
        const signed = (fields: string) =>
            `SharedAccessSignature sr=h%2Fdevices%2Fd&sig=${encodeURIComponent(sasSign("h%2Fdevices%2Fd", SE, key))}&se=${SE}${fields}`

        it("is valid up to and including se plus the skew", () => {
            assert.ok(sasVerify(signed(""), resource, { primaryKey: key }, SE + SAS_SKEW_SEC).ok)
            assert.strictEqual(sasVerify(signed(""), resource, { primaryKey: key }, SE + SAS_SKEW_SEC + 1).ok, false)
        })

        it("refuses a signed token with another prefix, a nameless or valueless field, or a bad skn", () => {
            assert.ok(sasVerify(signed(""), resource, { primaryKey: key }, NOW_SEC).ok)
            for (const bad of [
                signed("").replace("SharedAccessSignature ", "SharedAccessSignaturX "),
                signed("&=x"),
                signed("&junk"),
                signed("&skn=%E0"),
                signed("").replace("sr=h%2Fdevices%2Fd", "sr=h%2Fdevices%2Fd%E0"),
                "garbage",
            ])
                assert.strictEqual(sasVerify(bad, resource, { primaryKey: key }, NOW_SEC).ok, false, bad)
            // DPS accepts skn=registration or none; one that does not decode is neither.
            const dps = { resource: "h/devices/d", skn: "registration", sknOptional: true }
            assert.ok(sasVerify(signed(""), dps, { primaryKey: key }, NOW_SEC).ok)
            assert.strictEqual(sasVerify(signed("&skn=%E0"), dps, { primaryKey: key }, NOW_SEC).ok, false)
        })

        it("refuses an se that is not a plain decimal number, even signed over what the service would read", () => {
            for (const se of ["x1893456000", "1893456000x", "1.5e9"]) {
                const sig = encodeURIComponent(sasSign("h%2Fdevices%2Fd", Number(se), key))
                const t = `SharedAccessSignature sr=h%2Fdevices%2Fd&sig=${sig}&se=${se}`
                assert.strictEqual(sasParse(t).ok, false, se)
                assert.strictEqual(sasVerify(t, resource, { primaryKey: key }, NOW_SEC).ok, false, se)
            }
        })
    })
})
