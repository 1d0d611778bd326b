// What IoT Hub and DPS refuse, the emulator refuses too, with the service's error codes, before
// anything reaches a device: twin nesting (arrays count) and value sizes, direct method names and
// payloads, C2D size with its properties and topics MQTT cannot carry; a request body of `null`;
// an enrollment group taking over an identity it did not create.
import * as assert from "assert"
import * as https from "https"
import { HubServiceError } from "../../sim/emulator"
import { sasBuildToken, sasDeriveDeviceKey } from "../../sim/emulator/auth/sas"
import { group, individual, provision } from "./fixtures"
import { RunningEmulator, startTestEmulator } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { hubConnect, hubDevice, nextPublish } from "./hub-fixtures"

/** `{a:{a:...{a:leaf}}}` with `levels` objects below the top one. */
function nestObjects(levels: number, leaf: unknown = 1): unknown {
    let v = leaf
    for (let i = 0; i < levels; i++) v = { a: v }
    return v
}

function nestArrays(levels: number): unknown {
    let v: unknown = 1
    for (let i = 0; i < levels; i++) v = [v]
    return v
}

const code = (errorCode: number) => (e: unknown) => e instanceof HubServiceError && e.errorCode === errorCode

describe("IoT Hub limits", () => {
    let emu: RunningEmulator
    const dev = hubDevice("lim-dev")
    const taken = hubDevice("lab-01")
    const fleet = group("fleet")
    const chosen = individual("chooser", { deviceId: "chosen-id" })
    const svc = () => emu.emulator.service

    before(async () => {
        emu = await startTestEmulator({ devices: [dev, taken], enrollments: [fleet, chosen] })
    })
    after(() => emu.stop())

    async function online(...filters: string[]): Promise<RawClient> {
        const { client, code } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "lim-dev", key: dev.primaryKey, clean: true })
        assert.strictEqual(code, 0)
        for (const f of filters) await client.subscribe(f, 1)
        return client
    }

    describe("twin", () => {
        // The example of IoT Hub's device twin guide: ten levels below the section are fine.
        const cases: [string, unknown, number | undefined][] = [
            ["ten nested objects", nestObjects(10), undefined],
            ["eleven nested objects", nestObjects(11), 400004],
            ["ten levels of arrays and objects", nestObjects(5, nestArrays(5)), undefined],
            ["eleven levels counting arrays", nestObjects(5, nestArrays(6)), 400004],
            ["arrays nested 1000 deep", nestArrays(1000), 400004],
            ["a bad name inside an array", [{ "b.c": 1 }], 400004],
            ["a 4 KB string", "x".repeat(4096), undefined],
            ["a string over 4 KB", "x".repeat(4097), 400004],
        ]
        for (const [what, value, expected] of cases)
            it(`${expected ? "refuses" : "accepts"} ${what} in desired properties`, () => {
                const update = () => svc().updateDesired("lim-dev", { v: value })
                if (expected) assert.throws(update, code(expected))
                else assert.doesNotThrow(update)
            })
    })

    describe("direct methods", () => {
        it("refuses names IoT Hub refuses and payloads over 128 KB, and the device sees none of them", async () => {
            const c = await online("$iothub/methods/POST/#")
            for (const name of ["x".repeat(2000), "x".repeat(129), "has space", "dollar$", "a/b", "#", ""])
                await assert.rejects(svc().invokeMethod("lim-dev", name, null, 5), code(400004), name.slice(0, 20))
            await assert.rejects(svc().invokeMethod("lim-dev", "big", "x".repeat(128 * 1024), 5), code(413001))
            const call = svc().invokeMethod("lim-dev", "x".repeat(128), { ok: true }, 5)
            const req = await nextPublish(c, "$iothub/methods/POST/")
            assert.ok(req.topic.startsWith(`$iothub/methods/POST/${"x".repeat(128)}/?$rid=`))
            c.send({ cmd: "publish", topic: req.topic.replace(/POST\/x+/, "res/200"), payload: "{}", qos: 0, dup: false, retain: false })
            await call
            assert.strictEqual(c.received.filter((p) => p.cmd === "publish").length, 1)
            c.close()
        })
    })

    describe("cloud-to-device", () => {
        it("counts properties in the 64 KB, keeps IoT Hub's property characters and never sends a topic MQTT cannot carry", async () => {
            const c = await online("devices/lim-dev/messages/devicebound/#")
            const cases: [string, () => string, number][] = [
                ["body and properties over 64 KB", () => svc().sendC2d("lim-dev", "x".repeat(40_000), { properties: { p: "y".repeat(30_000) } }), 413001],
                ["a property of 70 KB", () => svc().sendC2d("lim-dev", "", { properties: { p: "#".repeat(70_000) } }), 413001],
                ["30 KB of # (90 KB once percent-encoded)", () => svc().sendC2d("lim-dev", "", { properties: { p: "#".repeat(30_000) } }), 400004],
                ["a space in a property", () => svc().sendC2d("lim-dev", "x", { properties: { "a b": "1" } }), 400004],
                ["a slash in a value", () => svc().sendC2d("lim-dev", "x", { properties: { a: "1/2" } }), 400004],
                ["a message id over 128 characters", () => svc().sendC2d("lim-dev", "x", { messageId: "m".repeat(129) }), 400004],
            ]
            for (const [what, send, expected] of cases) assert.throws(send, code(expected), what)
            assert.strictEqual(svc().getDevice("lim-dev").cloudToDeviceMessageCount, 0)
            // The session is intact: the next message arrives whole.
            svc().sendC2d("lim-dev", "after", { properties: { p: "#".repeat(20_000) } })
            const m = await nextPublish(c, "devices/lim-dev/messages/devicebound/")
            assert.strictEqual(m.payload.toString(), "after")
            assert.ok(m.topic.endsWith(`p=${"%23".repeat(20_000)}`))
            c.close()
        })
    })

    it("answers a JSON body of null (or any non-object) with 400, not 500", async () => {
        const token = sasBuildToken("localhost", Math.floor(Date.now() / 1000) + 600, emu.serviceKey, "iothubowner")
        for (const body of ["null", "42", "[]", '"text"']) {
            const status = await new Promise<number>((resolve, reject) => {
                const req = https.request(
                    {
                        host: "localhost",
                        port: emu.servicePort,
                        path: "/devices/lim-dev",
                        method: "PATCH",
                        ca: emu.ca,
                        headers: { Authorization: token, "Content-Type": "application/json" },
                    },
                    (res) => {
                        res.resume()
                        resolve(res.statusCode!)
                    }
                )
                req.on("error", reject)
                req.end(body)
            })
            assert.strictEqual(status, 400, body)
        }
    })

    describe("an enrollment group and existing identities", () => {
        it("cannot take over an identity made by the service side or by another registration", async () => {
            const chosenAnswers = await provision(emu.mqttPort, emu.ca, { registrationId: "chooser", key: chosen.attestation.primaryKey })
            assert.strictEqual(chosenAnswers.at(-1)!.body.status, "assigned")
            for (const id of ["lab-01", "chosen-id"]) {
                const answers = await provision(emu.mqttPort, emu.ca, { registrationId: id, key: sasDeriveDeviceKey(fleet.attestation.primaryKey, id) })
                const final = answers.at(-1)!
                assert.deepStrictEqual([final.status, final.body.status, final.body.registrationState.errorCode], [200, "failed", 409000], id)
            }
            // The owners' keys still work.
            for (const [id, key] of [
                ["lab-01", taken.primaryKey],
                ["chosen-id", chosen.attestation.primaryKey],
            ]) {
                const r = await hubConnect(emu.mqttPort, emu.ca, { deviceId: id, key })
                assert.strictEqual(r.code, 0, id)
                r.client.close()
            }
        })

        it("re-provisions a device it created itself", async () => {
            const key = sasDeriveDeviceKey(fleet.attestation.primaryKey, "fleet-7")
            for (let i = 0; i < 2; i++) {
                const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "fleet-7", key })
                assert.strictEqual(answers.at(-1)!.body.status, "assigned")
            }
        })
    })
})
