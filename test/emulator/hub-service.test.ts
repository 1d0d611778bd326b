// The service side: identities created by DPS assignments, the HTTPS management endpoint
// (authenticated with the service key) through ServiceClient, and the service-cli command.
import * as assert from "assert"
import * as https from "https"
import { sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { ServiceClient, ServiceRequestError } from "../../sim/emulator/service/service-client"
import { group, individual, provision } from "./fixtures"
import { randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { hubConnect, hubDevice, nextPublish, publish } from "./hub-fixtures"
import { serviceCliFor } from "./service-cli-runner"

describe("hub service side", () => {
    let emu: RunningEmulator
    const dev = hubDevice("svc-dev")
    const idle = hubDevice("svc-idle")
    const ind = individual("dps-dev", { deviceId: "dps-device" })
    const grp = group("dps-fleet")
    let client: ServiceClient

    before(async () => {
        emu = await startTestEmulator({ devices: [dev, idle], enrollments: [ind, grp] })
        client = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: "localhost", serviceKey: emu.serviceKey })
    })
    after(() => emu.stop())

    async function connected(deviceId: string, key: string, ...filters: string[]): Promise<RawClient> {
        const r = await hubConnect(emu.mqttPort, emu.ca, { deviceId, key, clean: true })
        assert.strictEqual(r.code, 0)
        for (const f of filters) await r.client.subscribe(f, 1)
        return r.client
    }

    it("creates the hub identity when DPS assigns, with the key the device signed with (individual and group)", async () => {
        await provision(emu.mqttPort, emu.ca, { registrationId: "dps-dev", key: ind.attestation.primaryKey })
        const derived = sasDeriveDeviceKey(grp.attestation.primaryKey, "fleet-9")
        await provision(emu.mqttPort, emu.ca, { registrationId: "fleet-9", key: derived })
        for (const [id, key] of [
            ["dps-device", ind.attestation.primaryKey],
            ["fleet-9", derived],
        ]) {
            const r = await hubConnect(emu.mqttPort, emu.ca, { deviceId: id, key })
            assert.strictEqual(r.code, 0, id)
            r.client.close()
        }
        const ids = emu.emulator.service.listDevices().map((d) => d.deviceId)
        assert.ok(
            ["dps-device", "fleet-9"].every((id) => ids.includes(id)),
            ids.join()
        )
    })

    describe("HTTPS endpoint", () => {
        function rawGet(headers: Record<string, string>): Promise<{ status: number; body: any }> {
            return new Promise((resolve, reject) => {
                const req = https.request({ host: "localhost", port: emu.servicePort, path: "/devices", ca: emu.ca, headers }, (res) => {
                    let text = ""
                    res.on("data", (d) => (text += d))
                    res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }))
                })
                req.on("error", reject)
                req.end()
            })
        }

        it("refuses requests without a valid service token (401002)", async () => {
            const none = await rawGet({})
            assert.deepStrictEqual([none.status, none.body.errorCode], [401, 401002])
            const wrongKey = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: "localhost", serviceKey: randomKey() })
            await assert.rejects(wrongKey.listDevices(), (e: ServiceRequestError) => e.status === 401 && /signature/.test(e.message))
            const otherHub = new ServiceClient({
                host: "localhost",
                port: emu.servicePort,
                ca: emu.ca,
                hub: "other.azure-devices.net",
                serviceKey: emu.serviceKey,
            })
            await assert.rejects(otherHub.listDevices(), (e: ServiceRequestError) => e.status === 401)
        })

        it("lists and shows devices without their keys", async () => {
            const list = await client.listDevices()
            const mine = list.find((d) => d.deviceId === "svc-dev")
            assert.deepStrictEqual([mine.hub, mine.status, mine.connectionState], ["localhost", "enabled", "Disconnected"])
            assert.ok(!JSON.stringify(list).includes(dev.primaryKey) && !/primaryKey/.test(JSON.stringify(list)))
            await assert.rejects(client.getDevice("nobody"), (e: ServiceRequestError) => e.status === 404 && e.errorCode === 404001)
        })

        it("updates desired properties (pushed to the device) and shows the twin", async () => {
            const c = await connected("svc-dev", dev.primaryKey, "$iothub/twin/PATCH/properties/desired/#")
            const twin = await client.updateDesired("svc-dev", { interval: 30 })
            assert.deepStrictEqual(twin.properties.desired, { interval: 30, $version: 2 })
            const p = await nextPublish(c, "$iothub/twin/PATCH/properties/desired/")
            assert.deepStrictEqual(JSON.parse(p.payload.toString()), { interval: 30, $version: 2 })
            assert.deepStrictEqual((await client.getTwin("svc-dev")).properties.reported, { $version: 1 })
            c.close()
        })

        it("sends C2D with properties and invokes a method end to end", async () => {
            const c = await connected("svc-dev", dev.primaryKey, "devices/svc-dev/messages/devicebound/#", "$iothub/methods/POST/#")
            const { messageId } = await client.sendC2d("svc-dev", "ping", { properties: { k: "v&w" }, contentType: "text/plain" })
            const m = await nextPublish(c, "devices/svc-dev/messages/devicebound/")
            assert.ok(m.topic.includes(`%24.mid=${messageId}`) && m.topic.endsWith("&%24.ct=text%2Fplain&k=v%26w"), m.topic)
            const call = client.invokeMethod("svc-dev", "status", { verbose: true }, 5)
            const req = await nextPublish(c, "$iothub/methods/POST/status/")
            publish(c, req.topic.replace("POST/status", "res/201"), '{"up":true}', 0)
            assert.deepStrictEqual(await call, { status: 201, payload: { up: true } })
            c.close()
            await assert.rejects(client.invokeMethod("svc-idle", "status", null, 5), (e: ServiceRequestError) => e.status === 404 && e.errorCode === 404103)
        })

        it("streams telemetry for one device (monitor-events)", async () => {
            const seen: any[] = []
            let got!: () => void
            const two = new Promise<void>((r) => (got = r))
            const m = await client.monitorEvents((e) => {
                seen.push(e)
                if (seen.length === 2) got()
            }, "svc-dev")
            const other = await connected("svc-idle", idle.primaryKey)
            publish(other, "devices/svc-idle/messages/events/", "not mine")
            const c = await connected("svc-dev", dev.primaryKey)
            publish(c, "devices/svc-dev/messages/events/a=1", '{"n":1}')
            publish(c, "devices/svc-dev/messages/events/", '{"n":2}')
            await two
            m.stop()
            assert.deepStrictEqual(
                seen.map((e) => [e.deviceId, e.body, e.properties]),
                [
                    ["svc-dev", '{"n":1}', { a: "1" }],
                    ["svc-dev", '{"n":2}', {}],
                ]
            )
            c.close()
            other.close()
        })

        it("disables a device over the endpoint: disconnected, then refused", async () => {
            const c = await connected("svc-idle", idle.primaryKey)
            assert.strictEqual((await client.setDeviceStatus("svc-idle", "disabled")).status, "disabled")
            await c.closed
            assert.strictEqual((await hubConnect(emu.mqttPort, emu.ca, { deviceId: "svc-idle", key: idle.primaryKey })).code, 5)
            await client.setDeviceStatus("svc-idle", "enabled")
        })
    })

    it("service-cli reads the config and secrets files and drives the running emulator", async () => {
        const cli = await serviceCliFor(emu)
        const out = JSON.parse((await cli("twin", "update", "-d", "svc-idle", "--desired", '{"mode":"eco"}')).stdout)
        assert.strictEqual(out.properties.desired.mode, "eco")
        assert.ok(emu.events.some((e) => e.name === "service.request" && e.data.method === "PATCH" && e.data.status === 200))
    })
})
