// Who may connect, decided without a network: the DPS and IoT Hub CONNECT checks as plain functions
// over a configuration, a registry and a clock. Each case is one credential a device (or an
// attacker) could present; what matters is the decision, and that a malformed one is refused, not thrown.
import * as assert from "assert"
import { dpsAuthenticate } from "../../sim/emulator/auth/dps-auth"
import { HubAuthContext, hubAuthenticate } from "../../sim/emulator/auth/hub-auth"
import { SAS_SKEW_SEC, sasBuildToken, sasDeriveDeviceKey, sasParse, sasSign, sasVerify } from "../../sim/emulator/auth/sas"
import { validateConfig } from "../../sim/emulator/config"
import { CaStore } from "../../sim/emulator/state/ca-store"
import { HubRegistry } from "../../sim/emulator/state/hub-registry"
import { ID_SCOPE, randomKey } from "../support/emulator"

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
            ]
            for (const [what, username, password] of refusals) {
                const r = connect(username?.split("/")[2] ?? "dev-1", username, password)
                assert.strictEqual(r.ok, false, what)
            }
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
