// IoT Hub's service REST API where the emulator has more than the SDK conformance test shows: identities are
// made in the hub the token names, and IoT Edge devices read and written back as the SDK does (capabilities,
// device scopes) stay IoT Edge devices.
import * as assert from "assert"
import { EDGE, HUB, startEdgeEmulator } from "./edge-fixtures"
import { hubDevice } from "./hub-fixtures"
import { startTestEmulator } from "../support/emulator"
import { ServiceClient } from "../../sim/emulator/service/service-client"
import * as https from "https"
import { sasBuildToken } from "../../sim/emulator/auth/sas"

describe("IoT Hub service REST API: hubs and IoT Edge devices", function () {
    this.timeout(30000)

    it("creates an identity in the hub its token names", async () => {
        const emu = await startTestEmulator({ hubs: [{ hostName: "localhost" }, { hostName: "hub-b" }] })
        try {
            const forHub = (hub: string) => new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub, serviceKey: emu.serviceKey })
            await forHub("hub-b").azure("hub", "PUT", "/devices/on-b", {})
            await forHub("localhost").azure("hub", "PUT", "/devices/on-a", {})
            assert.deepStrictEqual([emu.emulator.service.getDevice("on-b").hub, emu.emulator.service.getDevice("on-a").hub], ["hub-b", "localhost"])
        } finally {
            await emu.stop()
        }
    })

    it("shows an edge device's scope and its child's parentScopes; an edge device read and written back stays one", async () => {
        const emu = await startEdgeEmulator([hubDevice("leaf-1")])
        try {
            emu.emulator.service.setParent("leaf-1", EDGE)
            const c = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: HUB, serviceKey: emu.serviceKey })
            const edge = await c.azure("hub", "GET", `/devices/${EDGE}`)
            assert.strictEqual(edge.capabilities.iotEdge, true)
            assert.match(edge.deviceScope, new RegExp(`^ms-azure-iot-edge://${EDGE}-\\d+$`))
            assert.deepStrictEqual((await c.azure("hub", "GET", "/devices/leaf-1")).parentScopes, [edge.deviceScope])
            const disabled = await c.azure("hub", "PUT", `/devices/${EDGE}`, { ...edge, status: "disabled" }, edge.etag)
            assert.deepStrictEqual([disabled.status, disabled.capabilities.iotEdge], ["disabled", true])
            await assert.rejects(
                c.azure("hub", "PUT", "/devices/leaf-1", { capabilities: { iotEdge: true } }, "*"),
                /400 ArgumentInvalid: IoT Edge devices come from the emulator's config/
            )
        } finally {
            await emu.emulator.stop()
        }
    })

    it("answers a body over 128 KB with 413 and one that is not JSON with 400, on Azure's API and the management routes alike", async () => {
        const emu = await startTestEmulator({ devices: [hubDevice("body-dev")] })
        try {
            const token = sasBuildToken("localhost", Math.floor(Date.now() / 1000) + 600, emu.serviceKey, "iothubowner")
            const send = (path: string, body: string) =>
                new Promise<{ status: number; text: string }>((resolve, reject) => {
                    const req = https.request(
                        {
                            host: "localhost",
                            port: emu.servicePort,
                            path,
                            method: "POST",
                            ca: emu.ca,
                            headers: { Authorization: token, "Content-Type": "application/json" },
                        },
                        (res) => {
                            let text = ""
                            res.on("data", (c: Buffer) => (text += c.toString()))
                            res.on("end", () => resolve({ status: res.statusCode!, text }))
                        }
                    )
                    // The server may close as soon as it has refused an oversized body.
                    req.on("error", (e) => (e.message.includes("EPIPE") || e.message.includes("ECONNRESET") ? undefined : reject(e)))
                    req.end(body)
                })
            const big = JSON.stringify({ methodName: "m", payload: "x".repeat(130 * 1024) })
            const azure = "/twins/body-dev/methods?api-version=2021-04-12"
            const management = "/twins/body-dev/methods"
            const answers = [await send(azure, big), await send(azure, "{not json"), await send(management, big), await send(management, "{not json")]
            assert.deepStrictEqual(
                answers.map((a) => a.status),
                [413, 400, 413, 400]
            )
            assert.match(answers[0].text, /RequestEntityTooLarge/)
            assert.match(answers[3].text, /400004/)
        } finally {
            await emu.stop()
        }
    })
})
