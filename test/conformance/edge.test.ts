// Conformance: the official device SDK with `GatewayHostName=` in its connection string works
// through the emulator's IoT Edge gateway, trusting the edge root (via NODE_EXTRA_CA_CERTS).
import * as assert from "assert"
import * as fs from "fs"
import * as path from "path"
import { Emulator } from "../../sim/emulator"
import { startTestEmulator, tempDir, testGateway } from "../support/emulator"
import { hubDevice } from "../emulator/hub-fixtures"
import { startSdkHub } from "./sdk-hub"

describe("conformance: official device SDK through the IoT Edge gateway", function () {
    this.timeout(60_000)
    const leaf = { ...hubDevice("sdk-leaf-01"), parent: "sdk-edge-01" }
    let emulator: Emulator
    let caFile: string

    before(async () => {
        const { gateway, pki } = await testGateway("sdk-edge-01")
        // The SDK's trust: the edge root only; the hub root is not needed for a leaf that talks to its gateway.
        caFile = path.join(tempDir("sdk-edge"), "trust.pem")
        fs.writeFileSync(caFile, fs.readFileSync(pki.rootCertFile))
        emulator = (await startTestEmulator({ devices: [hubDevice("sdk-edge-01"), leaf], edges: [gateway] })).emulator
    })
    after(() => emulator.stop())

    it("sends telemetry and answers a method through the gateway", async () => {
        const cs = `HostName=localhost;DeviceId=${leaf.deviceId};SharedAccessKey=${leaf.primaryKey};GatewayHostName=localhost:${emulator.edgePort("sdk-edge-01")}`
        const sdk = startSdkHub({ connectionString: cs }, caFile)
        try {
            assert.deepStrictEqual(await sdk.next("open"), { step: "open", ok: true })
            await sdk.next("sendEvent")
            const m = emulator.service.telemetry(leaf.deviceId)[0]
            assert.deepStrictEqual(JSON.parse(m.body.toString()), { temperature: 21.5 })
            await sdk.next("ready")
            while (!emulator.hub.listens(leaf.deviceId, "methods")) await new Promise((r) => setTimeout(r, 10))
            const r = await emulator.service.invokeMethod(leaf.deviceId, "echo", { via: "edge" }, 10)
            assert.deepStrictEqual(r, { status: 200, payload: { echo: { via: "edge" } } })
        } finally {
            sdk.child.stdin!.end()
            await sdk.done
        }
    })
})
