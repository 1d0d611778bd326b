// Conformance: the official Azure IoT device SDK (azure-iot-device + azure-iot-device-mqtt)
// holds a session with the emulator's hub as with Azure IoT Hub — telemetry with properties,
// twin read and reported patch, desired update, direct method, C2D completed — and a wrong key
// ends in UnauthorizedError. Trust comes from NODE_EXTRA_CA_CERTS; certificate checks stay on.
import * as assert from "assert"
import { nextEvent, randomKey, RunningEmulator, startTestEmulator, testPki } from "../support/emulator"
import { hubDevice } from "../emulator/hub-fixtures"
import { SdkHubLine, startSdkHub } from "./sdk-hub"

describe("conformance: official device SDK against the hub face", function () {
    this.timeout(60_000)
    let emu: RunningEmulator
    const dev = hubDevice("sdk-hub-01")
    const cs = (key: string) => `HostName=localhost:${emu.mqttPort};DeviceId=${dev.deviceId};SharedAccessKey=${key}`

    before(async () => {
        emu = await startTestEmulator({ devices: [dev] })
    })
    after(() => emu.stop())

    it("sends telemetry, reads and patches its twin, gets desired updates, answers a method and completes C2D", async () => {
        const sdk = startSdkHub({ connectionString: cs(dev.primaryKey) }, (await testPki()).rootCertFile)
        try {
            const service = emu.emulator.service
            assert.deepStrictEqual(await sdk.next("open"), { step: "open", ok: true })
            await sdk.next("sendEvent")
            const m = service.telemetry(dev.deviceId)[0]
            assert.deepStrictEqual(JSON.parse(m.body.toString()), { temperature: 21.5 })
            assert.deepStrictEqual(m.properties, { alert: "yes", path: "a/b&c" })
            assert.deepStrictEqual(m.systemProperties, { messageId: "sdk-msg-1", contentType: "application/json", contentEncoding: "utf-8" })

            const twin = await sdk.next("getTwin")
            assert.deepStrictEqual([twin.desired.$version, twin.reported.$version], [1, 1])
            await sdk.next("reported")
            assert.deepStrictEqual(service.getTwin(dev.deviceId).properties.reported, { firmware: "sdk", rate: 5, $version: 2 })

            await sdk.next("ready")
            // The SDK subscribes in the background: the first desired event (its own GET) follows
            // the desired subscription; methods and C2D are ready when the hub sees them.
            assert.deepStrictEqual((await sdk.next("desired")).delta, { $version: 1 })
            while (!emu.emulator.hub.listens(dev.deviceId, "methods") || !emu.emulator.hub.listens(dev.deviceId, "c2d"))
                await new Promise((r) => setTimeout(r, 10))
            assert.strictEqual(service.updateDesired(dev.deviceId, { interval: 15 }).delivered, true)
            let desired: SdkHubLine
            do desired = await sdk.next("desired")
            while (desired.delta.interval !== 15)
            assert.strictEqual(desired.delta.$version, 2)

            const result = await service.invokeMethod(dev.deviceId, "echo", { hello: "world" }, 10)
            assert.deepStrictEqual(result, { status: 200, payload: { echo: { hello: "world" } } })
            assert.deepStrictEqual((await sdk.next("method")).payload, { hello: "world" })

            const completed = nextEvent(emu.emulator, "hub.c2d.completed")
            service.sendC2d(dev.deviceId, "hi device", { properties: { kind: "greeting", "odd#key": "x&y%z+1" }, messageId: "c2d-1" })
            const c2d = await sdk.next("c2d")
            assert.strictEqual(c2d.body, "hi device")
            assert.strictEqual(c2d.messageId, "c2d-1")
            assert.strictEqual(c2d.properties.kind, "greeting")
            assert.strictEqual(c2d.properties["odd#key"], "x&y%z+1")
            assert.deepStrictEqual(await sdk.next("completed"), { step: "completed", ok: true })
            // The SDK's MQTT transport completes by its PUBACK.
            assert.strictEqual((await completed).messageId, "c2d-1")
            assert.strictEqual(service.getDevice(dev.deviceId).cloudToDeviceMessageCount, 0)

            // The SDK's dialect: its api-version, a host with port in the user name and the token's sr.
            const connect = emu.events.find((e) => e.name === "hub.connect")!.data
            assert.strictEqual(connect.apiVersion, "2021-04-12")
        } finally {
            sdk.child.stdin!.end()
            await sdk.done
        }
    })

    it("reports a wrong key as UnauthorizedError (CONNACK 5)", async () => {
        const sdk = startSdkHub({ connectionString: cs(randomKey()), openOnly: true }, (await testPki()).rootCertFile)
        const open = await sdk.next("open")
        sdk.child.stdin!.end()
        await sdk.done
        assert.strictEqual(open.ok, false, JSON.stringify(open))
        assert.deepStrictEqual([open.errorName, open.errorClass], ["UnauthorizedError", "UnauthorizedError"])
        assert.ok(emu.events.some((e) => e.name === "hub.refused" && /signature/.test(e.data.reason)))
    })
})
