// Runs the firmware's pure-function suites (test/device/*.test-device.ts) inside the DeviceScript VM.
import * as assert from "assert"
import * as path from "path"
import { buildFirmware } from "../../sim/host/build"
import { runDeviceTest } from "../../sim/host/run-device-test"
import { ROOT } from "../../sim/paths"

const SUITES = ["encoding", "mqtt-codec", "dps", "hub", "sensors"]

describe("firmware modules in the VM", function () {
    // Builds wait for the cross-process build lock while other test files compile (mocha runs files in parallel).
    this.timeout(180000)
    for (const name of SUITES) {
        it(`${name} suite passes`, async () => {
            const entry = path.join(ROOT, "test", "device", `${name}.test-device.ts`)
            const { outFile } = await buildFirmware(entry, path.join(ROOT, "build", "tests", `${name}.devs`))
            const r = await runDeviceTest(outFile, { timeoutMs: 20000 })
            assert.ok(r.passed, r.output.join("\n"))
            assert.match(r.output.join("\n"), /tests: \d+, pass: \d+, error: 0/)
        })
    }
})
