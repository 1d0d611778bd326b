// The emulator's configuration: the shipped default, secrets kept apart, generated keys,
// and validation that names every problem.
import * as assert from "assert"
import * as fs from "fs"
import * as path from "path"
import { ConfigError, generateMissingKeys, loadConfig, validateConfig } from "../../sim/emulator/config"
import { ROOT } from "../../sim/paths"
import { tempDir } from "../support/emulator"

const DEFAULT_CONFIG = path.join(ROOT, "sim", "emulator.config.json")

describe("emulator configuration", () => {
    it("ships a default with public values only: sim-device-01, the sim-group group, the sim-leaf-01 leaf behind edge-gw-01, the sim-x509-group X.509 group, hub localhost, ports 8883/8443/8444/8884", () => {
        const text = fs.readFileSync(DEFAULT_CONFIG, "utf8")
        assert.ok(!/primaryKey|secondaryKey/.test(text))
        const c = loadConfig(DEFAULT_CONFIG)
        assert.deepStrictEqual(c.ports, { mqtt: 8883, https: 8443, service: 8444, edge: 8884 })
        assert.deepStrictEqual(
            c.enrollments.map((e) => [e.kind, e.kind === "individual" ? e.registrationId : e.enrollmentGroupId]),
            [
                ["individual", "sim-device-01"],
                ["group", "sim-group"],
                ["individual", "sim-leaf-01"],
                ["group", "sim-x509-group"],
            ]
        )
        // The X.509 group trusts a CA uploaded and verified at run time (npm start -- --x509).
        assert.deepStrictEqual(c.enrollments[3].attestation, { type: "x509", ca: { caName: "sim-x509-root" } })
        assert.deepStrictEqual(
            c.edges.map((e) => [e.deviceId, e.hostName]),
            [["edge-gw-01", "localhost"]]
        )
        assert.deepStrictEqual(
            c.devices.map((d) => [d.deviceId, d.parent]),
            [
                ["edge-gw-01", undefined],
                ["sim-leaf-01", "edge-gw-01"],
            ]
        )
        assert.deepStrictEqual(c.hubs, [{ hostName: "localhost", applyAllocationPolicy: true, latencyMs: 0, authorizationPolicies: [] }])
        // Paths resolve against the config file, so any working directory works.
        assert.strictEqual(c.tls.ca, path.join(ROOT, "certs", "test-pki", "emulator-root.pem"))
    })

    it("generates missing keys once into a 0600 secrets file and reuses them", () => {
        const secrets = path.join(tempDir("emulator-config"), "nested", "secrets.json")
        const first = generateMissingKeys(loadConfig(DEFAULT_CONFIG, secrets), secrets)
        assert.strictEqual(fs.statSync(secrets).mode & 0o777, 0o600)
        for (const e of first.enrollments) {
            if (e.attestation.type === "x509") {
                assert.strictEqual(e.attestation.primaryKey, undefined)
                continue
            }
            assert.strictEqual(Buffer.from(e.attestation.primaryKey!, "base64").length, 64)
            assert.notStrictEqual(e.attestation.primaryKey, e.attestation.secondaryKey)
        }
        const again = generateMissingKeys(loadConfig(DEFAULT_CONFIG, secrets), secrets)
        assert.deepStrictEqual(again.enrollments, first.enrollments)
        const saved = JSON.parse(fs.readFileSync(secrets, "utf8"))
        // The service policy's key sits beside the enrollments'.
        assert.deepStrictEqual(Object.keys(saved).sort(), [
            "$iothubowner",
            "devices/edge-gw-01",
            "devices/sim-leaf-01",
            "sim-device-01",
            "sim-group",
            "sim-leaf-01",
        ])
    })

    it("takes keys from the secrets file when the config leaves them out, and config keys win", () => {
        const dir = tempDir("emulator-config")
        const key = Buffer.alloc(32, 7).toString("base64")
        const own = Buffer.alloc(32, 9).toString("base64")
        fs.writeFileSync(
            path.join(dir, "secrets.json"),
            JSON.stringify({ a: { primaryKey: key, secondaryKey: key }, b: { primaryKey: key, secondaryKey: key } })
        )
        fs.writeFileSync(
            path.join(dir, "config.json"),
            JSON.stringify({
                tls: { cert: "server.pem", key: "server.key" },
                dps: { idScope: "0ne00000001" },
                hubs: [{ hostName: "hub.local" }],
                enrollments: [
                    { registrationId: "a", attestation: { type: "symmetricKey" } },
                    { enrollmentGroupId: "b", attestation: { type: "symmetricKey", primaryKey: own } },
                ],
            })
        )
        const c = loadConfig(path.join(dir, "config.json"), path.join(dir, "secrets.json"))
        assert.strictEqual(c.enrollments[0].attestation.primaryKey, key)
        assert.strictEqual(c.enrollments[1].attestation.primaryKey, own)
        assert.strictEqual(c.enrollments[1].attestation.secondaryKey, key)
        assert.strictEqual(c.enrollments[0].iotHubHostName, "hub.local")
        assert.strictEqual(c.tls.cert, path.join(dir, "server.pem"))
        assert.strictEqual(c.bind, "127.0.0.1")
    })

    it("reads a hub's shared access policies as ARM writes them, keys from the secrets file or generated", () => {
        const dir = tempDir("emulator-config")
        const key = Buffer.alloc(32, 5).toString("base64")
        fs.writeFileSync(path.join(dir, "secrets.json"), JSON.stringify({ "hubs/hub.local/device": { primaryKey: key, secondaryKey: key } }))
        const policies = [
            { keyName: "device", rights: "DeviceConnect" },
            { keyName: "reader", rights: ["RegistryRead", "ServiceConnect"] },
        ]
        fs.writeFileSync(
            path.join(dir, "config.json"),
            JSON.stringify({
                tls: { cert: "s.pem", key: "s.key" },
                dps: { idScope: "0ne00000001" },
                hubs: [{ hostName: "hub.local", authorizationPolicies: policies }],
            })
        )
        const c = generateMissingKeys(loadConfig(path.join(dir, "config.json"), path.join(dir, "secrets.json")), path.join(dir, "secrets.json"))
        const [device, reader] = c.hubs[0].authorizationPolicies
        assert.deepStrictEqual([device.keyName, device.rights, device.primaryKey], ["device", ["DeviceConnect"], key])
        assert.deepStrictEqual(reader.rights, ["RegistryRead", "ServiceConnect"])
        assert.strictEqual(JSON.parse(fs.readFileSync(path.join(dir, "secrets.json"), "utf8"))["hubs/hub.local/reader"].primaryKey, reader.primaryKey)
        const bad = {
            tls: { cert: "s.pem", key: "s.key" },
            dps: { idScope: "0ne00000001" },
            hubs: [{ hostName: "h", authorizationPolicies: [{ keyName: "a b", rights: "DeviceConnect, Everything" }] }],
        }
        assert.throws(() => validateConfig(bad), /keyName: must be .*rights\[1\]: must list RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect/)
    })

    it("reads allocation as DPS's service API writes it, and refuses a webhook off loopback or an unknown policy", () => {
        const base = {
            tls: { cert: "s.pem", key: "s.key" },
            dps: { idScope: "0ne00000001" },
            hubs: [{ hostName: "a" }, { hostName: "b", latencyMs: 4, applyAllocationPolicy: false }],
        }
        const c = validateConfig({
            ...base,
            enrollments: [{ registrationId: "d", attestation: { type: "symmetricKey", primaryKey: Buffer.alloc(32).toString("base64") } }],
        })
        assert.deepStrictEqual(
            [c.dps.allocationPolicy, c.enrollments[0].allocationPolicy, c.enrollments[0].reprovisionPolicy],
            ["hashed", "hashed", { updateHubAssignment: true, migrateDeviceData: true }]
        )
        assert.deepStrictEqual([c.hubs[1].latencyMs, c.hubs[1].applyAllocationPolicy], [4, false])
        const bad = {
            ...base,
            enrollments: [
                { registrationId: "x", allocationPolicy: "nearest" },
                { registrationId: "y", allocationPolicy: "custom", customAllocationDefinition: { webhookUrl: "https://example.com/api/allocate" } },
                { registrationId: "z", iotHubs: ["c"], reprovisionPolicy: { updateHubAssignment: "yes" } },
            ],
        }
        assert.throws(
            () => validateConfig(bad),
            /allocationPolicy: must be one of hashed, geoLatency, static, custom.*webhookUrl: must be an http\(s\) URL on a loopback host.*iotHubs: must list some of hubs.*reprovisionPolicy.updateHubAssignment: must be/
        )
    })

    it("names every problem of an invalid configuration at once", () => {
        const bad = {
            bind: "0.0.0.0",
            ports: { mqtt: 70000, https: 8443 },
            tls: { cert: "c.pem" },
            dps: { idScope: "bad scope!" },
            hubs: [{ hostName: "hub" }],
            enrollments: [
                { registrationId: "x", attestation: { type: "tpm" }, iotHubHostName: "elsewhere" },
                { registrationId: "X", attestation: { type: "symmetricKey", primaryKey: "short" }, faults: { throttle: -1, serverErrorStatus: 502 } },
            ],
        }
        assert.throws(
            () => validateConfig(bad),
            (e: Error) => {
                assert.ok(e instanceof ConfigError)
                for (const needle of [
                    "bind",
                    "ports",
                    "tls.key",
                    "idScope",
                    "attestation.type",
                    "iotHubHostName",
                    "used twice",
                    "primaryKey",
                    "throttle",
                    "serverErrorStatus",
                ])
                    assert.ok(e.message.includes(needle), `${needle} missing in: ${e.message}`)
                return true
            }
        )
    })

    describe("schema", () => {
        const key = Buffer.alloc(32, 3).toString("base64")
        const base = { tls: { cert: "s.pem", key: "s.key" }, dps: { idScope: "0ne00000001" }, hubs: [{ hostName: "hub-a" }, { hostName: "hub-b" }] }
        const problems = (raw: unknown) => {
            try {
                validateConfig(raw)
            } catch (e) {
                assert.ok(e instanceof ConfigError)
                return e.message.split("; ")
            }
            assert.fail("the configuration was accepted")
        }

        it("names each wrong setting by its path, problems sorted by path", () => {
            assert.deepStrictEqual(problems(42), ["config: must be a JSON object"])
            assert.deepStrictEqual(
                problems({
                    ...base,
                    ports: { mqtt: "8883" },
                    hubs: [],
                    enrollments: [{ registrationId: "r", attestation: { type: "symmetricKey", primaryKey: key }, faults: { pollsBeforeAssigned: 1.5 } }],
                    devices: [{ deviceId: "d", parent: 5 } as never],
                    edges: [{ deviceId: "d" } as never],
                    eventGrid: { subscriptions: [{ name: "s", endpoint: "http://localhost/hook", maxDeliveryAttempts: 31 }] },
                }),
                [
                    "devices[0].parent: must be a string",
                    "edges[0].tls.cert: must be a file path or PEM text",
                    "edges[0].tls.key: must be a file path or PEM text",
                    "enrollments[0].faults.pollsBeforeAssigned: must be a whole number of polls",
                    "eventGrid.subscriptions[0].endpoint: must be an https:// webhook (Event Grid delivers over HTTPS only)",
                    "eventGrid.subscriptions[0].maxDeliveryAttempts: must be 1..30",
                    "eventGrid.subscriptions[0].name: must be 3-64 letters, digits or hyphens (Event Grid's rule)",
                    "hubs: must list at least one { hostName }",
                    "ports.mqtt: must be 0..65535 (0 = any free port)",
                ]
            )
        })

        it("checks references between settings even when other settings are wrong", () => {
            const bad = {
                ...base,
                sasSkewSec: -1,
                devices: [
                    { deviceId: "gw", hub: "hub-b" },
                    { deviceId: "leaf", parent: "gw" },
                    { deviceId: "orphan", parent: "nobody" },
                    { deviceId: "lost", hub: "hub-c" },
                ],
                edges: [
                    { deviceId: "gw", tls: { cert: "e.pem", key: "e.key" } },
                    { deviceId: "ghost", tls: { cert: "e.pem", key: "e.key" } },
                ],
            }
            assert.deepStrictEqual(problems(bad), [
                "devices[1].parent: is an edge device of another hub",
                "devices[2].parent: must name one of edges",
                "devices[3].hub: must be one of hubs",
                "edges[1].deviceId: must name one of devices (the edge device's identity)",
                "sasSkewSec: must be a whole number of seconds",
            ])
        })

        it("wants a webhook exactly where the allocation policy, the enrollment's or DPS's default, is custom", () => {
            const webhook = { customAllocationDefinition: { webhookUrl: "http://127.0.0.1:7071/api/allocate" } }
            const symmetricKey = { type: "symmetricKey" as const }
            assert.deepStrictEqual(
                problems({
                    ...base,
                    dps: { idScope: "0ne00000001", allocationPolicy: "custom" },
                    enrollments: [
                        { registrationId: "a", attestation: symmetricKey },
                        { registrationId: "b", attestation: symmetricKey, iotHubHostName: "hub-a", ...webhook },
                        { registrationId: "c", attestation: symmetricKey, allocationPolicy: "hashed", ...webhook },
                        { registrationId: "d", attestation: symmetricKey, ...webhook },
                    ],
                }),
                [
                    "enrollments[0].customAllocationDefinition.webhookUrl: must be an http(s) URL on a loopback host",
                    "enrollments[1].customAllocationDefinition: is for allocationPolicy custom",
                    "enrollments[2].customAllocationDefinition: is for allocationPolicy custom",
                ]
            )
        })

        it("fills in settings that default to others: hub, allocation policy, device id, edge ports", () => {
            const c = validateConfig({
                ...base,
                ports: { edge: 9000 },
                dps: { idScope: "0ne00000001", allocationPolicy: "geoLatency" },
                enrollments: [
                    { registrationId: "r", attestation: { type: "symmetricKey" } },
                    { registrationId: "s", deviceId: "dev-s", iotHubHostName: "hub-b", attestation: { type: "symmetricKey" } },
                ],
                devices: [{ deviceId: "gw1" }, { deviceId: "gw2", hub: "hub-b" }],
                edges: [
                    { deviceId: "gw1", tls: { cert: "e.pem", key: "e.key" } },
                    { deviceId: "gw2", tls: { cert: "e.pem", key: "e.key" } },
                ],
            })
            const [r, s] = c.enrollments
            assert.ok(r.kind === "individual" && s.kind === "individual")
            assert.deepStrictEqual([r.iotHubHostName, r.allocationPolicy, r.deviceId], ["hub-a", "geoLatency", "r"])
            assert.deepStrictEqual([s.iotHubHostName, s.allocationPolicy, s.deviceId], ["hub-b", "static", "dev-s"])
            assert.deepStrictEqual(
                c.devices.map((d) => d.hub),
                ["hub-a", "hub-b"]
            )
            assert.deepStrictEqual(
                c.edges.map((e) => [e.hub, e.port, e.hostName]),
                [
                    ["hub-a", 9000, "localhost"],
                    ["hub-b", 9001, "localhost"],
                ]
            )
            assert.strictEqual(c.edges[0].tls.cert, path.resolve("e.pem"))
        })
    })
})
