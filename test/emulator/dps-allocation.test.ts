// Allocation across linked hubs as DPS does it: hashed (evenly weighted), static, lowest latency
// (the local stand-in), custom (a loopback webhook with Azure's request and answer, one that fails,
// one that times out), the enrollment's initialTwin, and the three reprovisioning policies.
import * as assert from "assert"
import * as http from "http"
import { AddressInfo } from "net"
import { sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { group, individual, provision } from "./fixtures"
import { RunningEmulator, startTestEmulator } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"

describe("DPS allocation", () => {
    let emu: RunningEmulator
    let webhook: http.Server
    const requests: any[] = []
    /** The hub the webhook answers for each registration id (changed by the reprovisioning test). */
    const target: Record<string, string> = {}
    const hashedFleet = group("hashed-fleet", { allocationPolicy: "hashed", iotHubs: ["localhost", "hub-b"] })
    const staticDev = individual("static-dev", { allocationPolicy: "static", iotHubHostName: "hub-c" })
    const geoDev = individual("geo-dev", { allocationPolicy: "geoLatency" })
    const twinDev = individual("twin-dev", { initialTwin: { tags: { site: "lab" }, properties: { desired: { interval: 10 } } } })
    const custom = (id: string, path: string, extra: object = {}) =>
        individual(id, {
            allocationPolicy: "custom",
            iotHubs: ["localhost", "hub-b", "hub-c"],
            customAllocationDefinition: { webhookUrl: `http://127.0.0.1:{port}${path}`, apiVersion: "2021-10-01" },
            ...extra,
        })
    const customDev = custom("custom-dev", "/ok")
    const brokenDev = custom("broken-dev", "/fail")
    const slowDev = custom("slow-dev", "/slow")
    const initial = { properties: { desired: { v: "initial" } } }
    const reMigrate = custom("re-migrate", "/ok", { initialTwin: initial })
    const reReset = custom("re-reset", "/ok", { initialTwin: initial, reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: false } })
    const reNever = custom("re-never", "/ok", { initialTwin: initial, reprovisionPolicy: { updateHubAssignment: false, migrateDeviceData: true } })

    before(async () => {
        webhook = http.createServer((req, res) => {
            let body = ""
            req.on("data", (c) => (body += c))
            req.on("end", () => {
                if (req.url === "/slow") return // never answers
                const request = JSON.parse(body)
                requests.push(request)
                if (req.url === "/fail") return res.writeHead(500).end()
                const id = request.deviceRuntimeContext.registrationId
                res.writeHead(200, { "Content-Type": "application/json" })
                // Only custom-dev gets a twin from the webhook; the others keep their enrollment's initialTwin.
                const twin = id === "custom-dev" ? { initialTwin: { properties: { desired: { mode: "eco" } } } } : {}
                res.end(JSON.stringify({ iotHubHostName: target[id] ?? "hub-c", ...twin, payload: { welcome: id } }))
            })
        })
        await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve))
        const port = (webhook.address() as AddressInfo).port
        const enrollments = [hashedFleet, staticDev, geoDev, twinDev, customDev, brokenDev, slowDev, reMigrate, reReset, reNever].map((e: any) =>
            e.customAllocationDefinition
                ? {
                      ...e,
                      customAllocationDefinition: {
                          ...e.customAllocationDefinition,
                          webhookUrl: e.customAllocationDefinition.webhookUrl.replace("{port}", String(port)),
                      },
                  }
                : e
        )
        emu = await startTestEmulator({
            enrollments,
            dps: { webhookTimeoutMs: 300 },
            hubs: [
                { hostName: "localhost", latencyMs: 30 },
                { hostName: "hub-b", latencyMs: 5 },
                { hostName: "hub-c", applyAllocationPolicy: false },
            ],
        })
    })
    after(async () => {
        await emu?.stop()
        webhook?.closeAllConnections()
        webhook?.close()
    })

    /** Registers and polls (every 50 ms, as a device waiting out retry-after would) until a final answer. */
    async function final(e: { registrationId: string; attestation: { primaryKey: string } }, payload?: unknown) {
        const c = await RawClient.open(emu.mqttPort, emu.ca)
        try {
            assert.strictEqual(await c.connect({ registrationId: e.registrationId, key: e.attestation.primaryKey }), 0)
            await c.subscribe()
            let a = await c.register("1", { registrationId: e.registrationId, payload })
            for (let i = 2; a.status === 202 && i < 40; i++) {
                await new Promise((resolve) => setTimeout(resolve, 50))
                a = await c.poll(String(i), a.body.operationId)
            }
            return a.body
        } finally {
            c.close()
        }
    }

    it("hashed: spreads a group over its hubs, the same registration id always on the same hub", async () => {
        const hubs: Record<string, string> = {}
        for (let i = 0; i < 8; i++) {
            const id = `hashed-${i}`
            const answers = await provision(emu.mqttPort, emu.ca, { registrationId: id, key: sasDeriveDeviceKey(hashedFleet.attestation.primaryKey, id) })
            hubs[id] = answers[answers.length - 1].body.registrationState.assignedHub
        }
        assert.deepStrictEqual(new Set(Object.values(hubs)), new Set(["localhost", "hub-b"]))
        const again = await provision(emu.mqttPort, emu.ca, {
            registrationId: "hashed-0",
            key: sasDeriveDeviceKey(hashedFleet.attestation.primaryKey, "hashed-0"),
        })
        const s = again[again.length - 1].body.registrationState
        assert.deepStrictEqual([s.assignedHub, s.substatus], [hubs["hashed-0"], "reprovisionedToInitialAssignment"])
    })

    it("static: the named hub, even one that applies no allocation policy; lowest latency: the nearest applying hub", async () => {
        assert.strictEqual((await final(staticDev)).registrationState.assignedHub, "hub-c")
        assert.strictEqual((await final(geoDev)).registrationState.assignedHub, "hub-b")
        assert.strictEqual(emu.emulator.state.hub.device("geo-dev")?.hub, "hub-b")
    })

    it("applies the enrollment's initialTwin at first assignment", async () => {
        await final(twinDev)
        assert.deepStrictEqual(emu.emulator.service.getTwin("twin-dev").properties.desired, { interval: 10, $version: 1 })
    })

    it("custom: posts Azure's AllocationRequest and follows the answer (hub, initialTwin, payload back to the device)", async () => {
        const body = await final(customDev, { modelId: "dtmi:example:Thermostat;1" })
        const s = body.registrationState
        assert.deepStrictEqual([body.status, s.assignedHub, s.payload], ["assigned", "hub-c", { welcome: "custom-dev" }])
        assert.deepStrictEqual(emu.emulator.service.getTwin("custom-dev").properties.desired, { mode: "eco", $version: 1 })
        const r = requests.find((x) => x.deviceRuntimeContext.registrationId === "custom-dev")
        assert.deepStrictEqual(Object.keys(r), ["individualEnrollment", "deviceRuntimeContext", "linkedHubs"])
        assert.deepStrictEqual(r.linkedHubs, ["localhost", "hub-b", "hub-c"])
        assert.strictEqual(r.individualEnrollment.registrationId, "custom-dev")
        assert.strictEqual(r.individualEnrollment.attestation.type, "symmetricKey")
        assert.deepStrictEqual(r.deviceRuntimeContext.symmetricKey, {})
        assert.deepStrictEqual(r.deviceRuntimeContext.payload, { modelId: "dtmi:example:Thermostat;1" })
        assert.ok(!JSON.stringify(r).includes(customDev.attestation.primaryKey), "no key goes to the webhook")
    })

    it("custom: a webhook that fails or times out ends the registration `failed` with 400207", async () => {
        const broken = await final(brokenDev)
        assert.deepStrictEqual(
            [broken.status, broken.registrationState.errorCode, broken.registrationState.errorMessage],
            ["failed", 400207, "Custom allocation failed with status code: 500"]
        )
        const slow = await final(slowDev)
        assert.deepStrictEqual([slow.status, slow.registrationState.errorCode], ["failed", 400207])
        assert.match(slow.registrationState.errorMessage, /^Custom allocation failed: the webhook did not answer within 300 ms/)
        assert.strictEqual(emu.emulator.state.hub.device("slow-dev"), undefined)
    })

    it("reprovisioning: migrate moves the twin, reset restores the initial twin, never keeps the hub", async () => {
        const devices = [reMigrate, reReset, reNever]
        for (const d of devices) {
            target[d.registrationId] = "localhost"
            assert.strictEqual((await final(d)).registrationState.assignedHub, "localhost")
            emu.emulator.service.updateDesired(d.registrationId, { v: "changed" })
            target[d.registrationId] = "hub-b"
        }
        const outcome = async (d: typeof reMigrate) => {
            const s = (await final(d)).registrationState
            return [
                s.assignedHub,
                s.substatus,
                emu.emulator.service.getTwin(d.registrationId).properties.desired.v,
                emu.emulator.state.hub.device(d.registrationId)?.hub,
            ]
        }
        assert.deepStrictEqual(await outcome(reMigrate), ["hub-b", "deviceDataMigrated", "changed", "hub-b"])
        assert.deepStrictEqual(await outcome(reReset), ["hub-b", "deviceDataReset", "initial", "hub-b"])
        assert.deepStrictEqual(await outcome(reNever), ["localhost", "initialAssignment", "changed", "localhost"])
        const current = requests.filter((x) => x.deviceRuntimeContext.registrationId === "re-migrate").pop()
        assert.strictEqual(current.deviceRuntimeContext.currentIotHubHostName, "localhost")
    })
})
