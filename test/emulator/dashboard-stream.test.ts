// The dashboard's live stream without a browser: every open page gets each telemetry message and
// device event as an NDJSON line, never the endpoint's own request events (which the pages' refreshes
// cause); pages share one listener on the emulator, removed when the last one goes.
import * as assert from "assert"
import * as http from "http"
import * as https from "https"
import { sasBuildToken } from "../../sim/emulator/auth/sas"
import { ServiceClient } from "../../sim/emulator/service/service-client"
import { hubConnect, hubDevice, publish } from "./hub-fixtures"
import { RunningEmulator, startTestEmulator } from "../support/emulator"

/** An open stream: the lines so far, and how to close it. */
interface Stream {
    lines: any[]
    close(): void
}

function openStream(emu: RunningEmulator): Promise<Stream> {
    const token = sasBuildToken("localhost", Math.floor(Date.now() / 1000) + 600, emu.serviceKey, "iothubowner")
    return new Promise((resolve, reject) => {
        const req = https.get(
            { host: "localhost", port: emu.servicePort, path: "/dashboard/api/stream", ca: emu.ca, headers: { Authorization: token } },
            (res: http.IncomingMessage) => {
                assert.strictEqual(res.statusCode, 200)
                assert.strictEqual(res.headers["content-type"], "application/x-ndjson")
                const lines: any[] = []
                let buffered = ""
                res.on("data", (c: Buffer) => {
                    buffered += c.toString()
                    const parts = buffered.split("\n")
                    buffered = parts.pop()!
                    lines.push(...parts.map((l) => JSON.parse(l)))
                    if (lines.length === 1) resolve({ lines, close: () => req.destroy() })
                })
            }
        )
        req.on("error", (e) => (e.message === "socket hang up" ? undefined : reject(e)))
    })
}

async function until(what: string, f: () => boolean, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs
    while (!f()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 20))
    }
}

describe("dashboard live stream", () => {
    let emu: RunningEmulator
    const dev = hubDevice("stream-dev")

    before(async () => {
        emu = await startTestEmulator({ devices: [dev] })
    })
    after(async () => emu?.stop())

    it("feeds every open page telemetry and device events through one listener, gone with the last page", async () => {
        const baseline = emu.emulator.listenerCount("event")
        const a = await openStream(emu)
        const b = await openStream(emu)
        assert.deepStrictEqual(a.lines[0], { event: "ready" })
        assert.strictEqual(emu.emulator.listenerCount("event"), baseline + 1, "one listener for every page")

        const { code, client } = await hubConnect(emu.mqttPort, emu.ca, { deviceId: dev.deviceId, key: dev.primaryKey, clean: true })
        assert.strictEqual(code, 0)
        publish(client, `devices/${dev.deviceId}/messages/events/`, '{"temperature":21.5}')
        const telemetry = (s: Stream) => s.lines.find((l) => l.event === "hub.telemetry")
        await until("telemetry on both streams", () => !!telemetry(a) && !!telemetry(b))
        assert.strictEqual(telemetry(a).message.deviceId, dev.deviceId)
        assert.strictEqual(telemetry(a).message.body, '{"temperature":21.5}')
        const connected = a.lines.find((l) => l.event === "hub.connect")
        assert.strictEqual(connected.deviceId, dev.deviceId)
        assert.match(connected.text, /stream-dev connected to localhost/)
        assert.ok(!a.lines.some((l) => l.event === "service.request"), "the pages' own requests are not streamed")

        a.close()
        emu.emulator.service.updateDesired(dev.deviceId, { telemetryInterval: 5 })
        await until("the desired update on the page still open", () => b.lines.some((l) => l.event === "hub.twin.desired"))
        assert.strictEqual(emu.emulator.listenerCount("event"), baseline + 1)

        b.close()
        client.close()
        await until("no listener left", () => emu.emulator.listenerCount("event") === baseline)
    })
    it("tells open pages of an enrollment created through DPS's service API, which the overview then lists", async () => {
        const page = await openStream(emu)
        const client = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: "localhost", serviceKey: emu.serviceKey })
        await client.azure("dps", "PUT", "/enrollments/stream-new", {
            registrationId: "stream-new",
            attestation: { type: "symmetricKey" },
            provisioningStatus: "enabled",
        })
        await until("the enrollment event on the page", () => page.lines.some((l) => l.event === "dps.enrollment"))
        page.close()
        const token = sasBuildToken("localhost", Math.floor(Date.now() / 1000) + 600, emu.serviceKey, "iothubowner")
        const overview = await new Promise<any>((resolve, reject) => {
            https
                .get({ host: "localhost", port: emu.servicePort, path: "/dashboard/api/overview", ca: emu.ca, headers: { Authorization: token } }, (res) => {
                    let text = ""
                    res.on("data", (c: Buffer) => (text += c.toString()))
                    res.on("end", () => resolve(JSON.parse(text)))
                })
                .on("error", reject)
        })
        assert.ok(
            overview.enrollments.some((e: any) => e.id === "stream-new" && e.kind === "individual"),
            "the run-time enrollment is listed"
        )
    })
})
