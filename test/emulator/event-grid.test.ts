// Device events through Event Grid to webhooks, as Azure delivers them: the validation handshake first, then
// Microsoft.Devices.* events in Event Grid's schema, retried until a 2xx, dead-lettered after the last try.
import * as assert from "assert"
import * as fs from "fs"
import * as https from "https"
import { AddressInfo } from "net"
import { individual, provision } from "./fixtures"
import { RunningEmulator, startTestEmulator, tempDir, testConfig, testPki } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { Emulator } from "../../sim/emulator"
import { hubConnect, publish } from "./hub-fixtures"
import { until } from "../../sim/wait"

interface Delivery {
    headers: Record<string, string | string[] | undefined>
    events: {
        eventType: string
        subject: string
        data: Record<string, any>
        topic: string
        id: string
        eventTime: string
        dataVersion: string
        metadataVersion: string
    }[]
}

/** A webhook on loopback: echoes validation codes (unless told not to) and answers notifications with `status(n)`. */
class Webhook {
    readonly deliveries: Delivery[] = []
    private server?: https.Server
    constructor(private readonly behaviour: { validate?: boolean; status?: (n: number) => number } = {}) {}

    async listen(cert: string, key: string): Promise<string> {
        this.server = https.createServer({ cert, key }, (req, res) => {
            let body = ""
            req.on("data", (d) => (body += d))
            req.on("end", () => {
                const events = JSON.parse(body)
                this.deliveries.push({ headers: req.headers, events })
                if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
                    const code = this.behaviour.validate === false ? "nope" : events[0].data.validationCode
                    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ validationResponse: code }))
                    return
                }
                const n = this.deliveries.filter((d) => d.headers["aeg-event-type"] === "Notification").length
                res.writeHead(this.behaviour.status?.(n) ?? 200).end()
            })
        })
        await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r))
        return `https://localhost:${(this.server!.address() as AddressInfo).port}/api/updates`
    }

    notifications(type?: string): Delivery["events"] {
        return this.deliveries
            .filter((d) => d.headers["aeg-event-type"] === "Notification")
            .flatMap((d) => d.events)
            .filter((e) => !type || e.eventType === type)
    }

    close(): Promise<void> {
        return new Promise((r) => this.server?.close(() => r()) ?? r())
    }
}

describe("Event Grid: device events to webhooks", function () {
    this.timeout(30000)
    let emu: RunningEmulator
    const good = new Webhook()
    const flaky = new Webhook({ status: (n) => (n <= 2 ? 503 : 200) })
    const broken = new Webhook({ status: () => 500 })
    const refusing = new Webhook({ status: () => 400 })
    const unvalidated = new Webhook({ validate: false })
    const dev = individual("eg-dev-1")

    before(async () => {
        const pki = await testPki()
        const cert = fs.readFileSync(pki.serverCertFile, "utf8")
        const key = fs.readFileSync(pki.serverKeyFile, "utf8")
        const fast = { retryDelaysMs: [50, 100, 200] }
        emu = await startTestEmulator({
            enrollments: [dev],
            eventGrid: {
                subscriptions: [
                    { name: "all-events", endpoint: await good.listen(cert, key) },
                    { name: "flaky", endpoint: await flaky.listen(cert, key), includedEventTypes: ["Microsoft.Devices.DeviceConnected"], ...fast },
                    {
                        name: "broken",
                        endpoint: await broken.listen(cert, key),
                        includedEventTypes: ["Microsoft.Devices.DeviceConnected"],
                        maxDeliveryAttempts: 3,
                        ...fast,
                    },
                    { name: "refusing", endpoint: await refusing.listen(cert, key), includedEventTypes: ["Microsoft.Devices.DeviceConnected"], ...fast },
                    { name: "unvalidated", endpoint: await unvalidated.listen(cert, key) },
                ],
            },
        })
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "eg-dev-1", key: dev.attestation.primaryKey })
        assert.strictEqual(answers[answers.length - 1].body.status, "assigned")
        const { code, client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "eg-dev-1", key: dev.attestation.primaryKey })
        assert.strictEqual(code, 0)
        publish(client, "devices/eg-dev-1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&alert=yes", '{"temperature":21.5}')
        await until("the telemetry event", () => good.notifications("Microsoft.Devices.DeviceTelemetry").length > 0, 10000)
        ;(client as RawClient).close()
        await until("the disconnect event", () => good.notifications("Microsoft.Devices.DeviceDisconnected").length > 0, 10000)
        emu.emulator.service.deleteDevice("eg-dev-1")
        await until("the delete event", () => good.notifications("Microsoft.Devices.DeviceDeleted").length > 0, 10000)
    })
    after(async () => {
        await emu?.stop()
        for (const w of [good, flaky, broken, refusing, unvalidated]) await w.close()
    })

    it("creates a subscription only after its endpoint echoes the validation code", () => {
        const handshake = good.deliveries[0]
        assert.strictEqual(handshake.headers["aeg-event-type"], "SubscriptionValidation")
        assert.strictEqual(handshake.events[0].eventType, "Microsoft.EventGrid.SubscriptionValidationEvent")
        assert.match(handshake.events[0].data.validationCode, /^[0-9a-f-]{36}$/)
        assert.strictEqual(emu.emulator.eventGrid!.state("all-events"), "active")
        assert.strictEqual(emu.emulator.eventGrid!.state("unvalidated"), "failed")
        assert.strictEqual(unvalidated.notifications().length, 0)
    })

    it("delivers created, connected, telemetry, disconnected and deleted in Event Grid's schema", () => {
        const types = good.notifications().map((e) => e.eventType)
        assert.deepStrictEqual(types, [
            "Microsoft.Devices.DeviceCreated",
            "Microsoft.Devices.DeviceConnected",
            "Microsoft.Devices.DeviceTelemetry",
            "Microsoft.Devices.DeviceDisconnected",
            "Microsoft.Devices.DeviceDeleted",
        ])
        for (const e of good.notifications()) {
            assert.strictEqual(e.subject, "devices/eg-dev-1")
            assert.strictEqual(e.data.deviceId, "eg-dev-1")
            assert.strictEqual(e.data.hubName, "localhost")
            assert.match(e.topic, /^\/SUBSCRIPTIONS\/.+\/PROVIDERS\/MICROSOFT\.DEVICES\/IOTHUBS\/LOCALHOST$/)
            assert.ok(!Number.isNaN(Date.parse(e.eventTime)))
            assert.strictEqual(e.metadataVersion, "1")
        }
        const [created, connected, telemetry, disconnected, deleted] = good.notifications()
        assert.strictEqual(created.data.twin.deviceId, "eg-dev-1")
        assert.strictEqual(created.data.twin.authenticationType, "sas")
        assert.ok(created.data.twin.properties.desired, "the twin's properties")
        assert.strictEqual(deleted.data.twin.deviceId, "eg-dev-1")
        assert.match(connected.data.deviceConnectionStateEventInfo.sequenceNumber, /^[0-9A-F]{64}$/)
        assert.ok(disconnected.data.deviceConnectionStateEventInfo.sequenceNumber > connected.data.deviceConnectionStateEventInfo.sequenceNumber)
        assert.deepStrictEqual(telemetry.data.body, { temperature: 21.5 })
        assert.deepStrictEqual(telemetry.data.properties, { alert: "yes" })
        assert.strictEqual(telemetry.data.systemProperties["iothub-content-type"], "application/json")
        assert.strictEqual(telemetry.data.systemProperties["iothub-connection-device-id"], "eg-dev-1")
        assert.strictEqual(good.deliveries[1].headers["aeg-subscription-name"], "ALL-EVENTS")
    })

    it("filters by event type and retries a failing endpoint until it takes the event", async () => {
        await until("the flaky endpoint's third try", () => flaky.notifications().length >= 3, 10000)
        const tries = flaky.deliveries.filter((d) => d.headers["aeg-event-type"] === "Notification")
        assert.deepStrictEqual(
            tries.map((d) => d.headers["aeg-delivery-count"]),
            ["0", "1", "2"]
        )
        assert.ok(
            tries.every((d) => d.events[0].id === tries[0].events[0].id),
            "a retry is the same event"
        )
        assert.deepStrictEqual([...new Set(flaky.notifications().map((e) => e.eventType))], ["Microsoft.Devices.DeviceConnected"])
    })

    it("dead-letters after the last attempt, and at once on a 400", async () => {
        await until("two dead letters", () => emu.emulator.eventGrid!.deadLetters.length >= 2, 10000)
        const letters = emu.emulator.eventGrid!.deadLetters
        const fromBroken = letters.find((d) => d.subscription === "broken")!
        assert.strictEqual(fromBroken.deliveryAttempts, 3)
        assert.strictEqual(broken.notifications().length, 3)
        assert.match(fromBroken.reason, /HTTP 500 after 3 attempts/)
        const fromRefusing = letters.find((d) => d.subscription === "refusing")!
        assert.strictEqual(fromRefusing.deliveryAttempts, 1)
        assert.match(fromRefusing.reason, /HTTP 400: not retried/)
        assert.ok(
            emu.events.some(
                (e) => e.name === "eventgrid.subscription" && /dead-lettered Microsoft\.Devices\.DeviceConnected/.test((e.data as { what: string }).what)
            )
        )
    })
})

describe("Event Grid: dead letters across a restart", function () {
    this.timeout(30000)

    it("keeps dead letters in the state directory: a restarted emulator still has them, in order", async () => {
        const pki = await testPki()
        const refusing = new Webhook({ status: () => 400 })
        const endpoint = await refusing.listen(fs.readFileSync(pki.serverCertFile, "utf8"), fs.readFileSync(pki.serverKeyFile, "utf8"))
        const config = await testConfig({
            eventGrid: { subscriptions: [{ name: "refusing", endpoint, includedEventTypes: ["Microsoft.Devices.DeviceCreated"] }] },
        })
        const stateDir = tempDir("eg-dead-letters")
        let emulator = new Emulator(config, { stateDir })
        try {
            await emulator.start()
            emulator.service.createDevice("dl-1", "localhost")
            await until("the first dead letter", () => emulator.eventGrid!.deadLetters.length === 1, 10000)
            await emulator.committed()
            await emulator.stop()

            emulator = new Emulator(config, { stateDir })
            await emulator.start()
            const kept = emulator.eventGrid!.deadLetters
            assert.deepStrictEqual(
                kept.map((d) => [d.subscription, d.event.subject, d.deliveryAttempts]),
                [["refusing", "devices/dl-1", 1]]
            )
            assert.match(kept[0].reason, /HTTP 400: not retried/)
            emulator.service.createDevice("dl-2", "localhost")
            await until("the second dead letter", () => emulator.eventGrid!.deadLetters.length === 2, 10000)
            await emulator.committed()
            await emulator.stop()

            emulator = new Emulator(config, { stateDir })
            await emulator.start()
            assert.deepStrictEqual(
                emulator.eventGrid!.deadLetters.map((d) => d.event.subject),
                ["devices/dl-1", "devices/dl-2"]
            )
        } finally {
            await emulator.stop()
            await refusing.close()
            fs.rmSync(stateDir, { recursive: true, force: true })
        }
    })
})
