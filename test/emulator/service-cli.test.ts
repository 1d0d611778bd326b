// The service CLI speaks az's flags: -d/--device-id, -n/--hub-name, --mn/--mp/--to for methods, and refuses
// what it does not know; monitor-events prints az's event shape and fails when the emulator goes away.
import * as assert from "assert"
import { individual } from "./fixtures"
import { randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { hubConnect, hubDevice, nextPublish, publish } from "./hub-fixtures"
import { ServiceCli, serviceCliFor, serviceCliProcess } from "./service-cli-runner"
import { parseCliArgs } from "../../sim/emulator/service/service-cli"
import { until } from "../../sim/wait"

describe("service CLI with az's vocabulary", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    let cli: ServiceCli
    const dev = hubDevice("cli-dev")

    before(async () => {
        emu = await startTestEmulator({ devices: [dev], enrollments: [individual("cli-unused")] })
        cli = await serviceCliFor(emu)
    })
    after(async () => {
        await emu?.stop()
    })

    it("invokes a method with --mn, --mp and --to, on the hub named with -n", async () => {
        const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "cli-dev", key: dev.primaryKey })
        await client.subscribe("$iothub/methods/POST/#")
        const answered = (async () => {
            const req = await nextPublish(client, "$iothub/methods/POST/")
            assert.match(req.topic, /^\$iothub\/methods\/POST\/getState\/\?\$rid=/)
            assert.deepStrictEqual(JSON.parse(req.payload.toString()), { verbose: true })
            const rid = new URLSearchParams(req.topic.split("?")[1]).get("$rid")
            publish(client, `$iothub/methods/res/200/?$rid=${rid}`, '{"ok":1}', 0)
        })()
        const out = await cli("method", "invoke", "-n", "localhost", "-d", "cli-dev", "--mn", "getState", "--mp", '{"verbose":true}', "--to", "10")
        await answered
        assert.deepStrictEqual(JSON.parse(out.stdout), { status: 200, payload: { ok: 1 } })
        client.close()
    })

    it("refuses unknown flags and a flag without its value, with the usage; takes az's alternate spellings", () => {
        assert.throws(() => parseCliArgs(["method", "invoke", "-d", "cli-dev", "--mn", "x", "--payload", "{}"]), /Unknown option '--payload'[\s\S]*usage:/)
        assert.throws(() => parseCliArgs(["twin", "show", "-d", "--config", "x"]), /Option '-d' argument is ambiguous/)
        const a = parseCliArgs(["method", "invoke", "--device-id", "d1", "--method-name", "m", "--method-payload", "{}", "--timeout", "9", "--hub-name", "h"])
        const b = parseCliArgs(["method", "invoke", "-d", "d1", "--mn", "m", "--mp", "{}", "--to", "9", "-n", "h"])
        assert.deepStrictEqual([...a.options].sort(), [...b.options].sort())
        assert.deepStrictEqual(b.words, ["method", "invoke"])
    })

    it("creates an identity (keys generated or given) whose connection string connects, and refuses a second one", async () => {
        const created = JSON.parse((await cli("device", "create", "-d", "cli-new")).stdout)
        assert.deepStrictEqual([created.deviceId, created.hub, created.authenticationType, created.status], ["cli-new", "localhost", "sas", "enabled"])
        const cs = JSON.parse((await cli("device", "connection-string", "show", "-d", "cli-new")).stdout).connectionString as string
        const m = /^HostName=localhost;DeviceId=cli-new;SharedAccessKey=(.+)$/.exec(cs)
        assert.ok(m, cs)
        assert.strictEqual((await hubConnect(emu.mqttPort, emu.ca, { deviceId: "cli-new", key: m![1] })).code, 0)
        assert.ok(emu.events.some((e) => e.name === "hub.device" && (e.data as { change: string }).change === "created"))
        await assert.rejects(cli("device", "create", "-d", "cli-new"), /409 409001: device cli-new already exists/)
        // Keys given, as with --pk/--sk; malformed keys and ids refused.
        const pk = randomKey()
        emu.emulator.service.createDevice("cli-given", "localhost", { primaryKey: pk })
        assert.strictEqual(emu.emulator.service.connectionString("cli-given").connectionString, `HostName=localhost;DeviceId=cli-given;SharedAccessKey=${pk}`)
        assert.throws(() => emu.emulator.service.createDevice("cli-bad", "localhost", { primaryKey: "c2hvcnQ=" }), /base64 of 16 to 64 bytes/)
        assert.throws(() => emu.emulator.service.createDevice("bad/id", "localhost"), /is not valid/)
    })

    it("refuses a method timeout IoT Hub would refuse, and a hub that is not in the config", async () => {
        await assert.rejects(cli("method", "invoke", "-d", "cli-dev", "--mn", "x", "--to", "3"), /--timeout takes 5\.\.300 seconds/)
        await assert.rejects(cli("device", "show", "-n", "otherhub", "-d", "cli-dev"), /no hub otherhub/)
    })

    it("monitor-events prints az's shape, with --props the properties, and exits 1 when the emulator goes away", async () => {
        const mon = await serviceCliProcess(emu, "monitor-events", "-d", "cli-dev", "--props")
        let out = ""
        let err = ""
        mon.stdout!.on("data", (d) => (out += d))
        mon.stderr!.on("data", (d) => (err += d))
        const exited = new Promise<number>((r) => mon.on("exit", (code) => r(code ?? -1)))
        await until("the monitor to start", () => err.includes("Starting event monitor"), 20000)
        const { client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "cli-dev", key: dev.primaryKey })
        publish(client, "devices/cli-dev/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&alert=high", '{"temperature":30}')
        await until("the event printed", () => out.includes("temperature"), 10000)
        const event = JSON.parse(out)
        assert.deepStrictEqual(event.event.origin, "cli-dev")
        assert.deepStrictEqual(event.event.payload, { temperature: 30 })
        assert.deepStrictEqual(event.event.properties.application, { alert: "high" })
        assert.strictEqual(event.event.properties.system.contentType, "application/json")
        client.close()
        await emu.stop()
        assert.strictEqual(await exited, 1)
        assert.match(err, /the emulator closed the event stream/)
    })
})
