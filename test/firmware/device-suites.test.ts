// Runs the firmware's pure-function suites (test/device/*.test-device.ts, found by file name) inside the DeviceScript VM.
import * as assert from "assert"
import { buildFirmware } from "../../sim/host/build"
import { runDeviceTest } from "../../sim/host/run-device-test"
import { PEER_SUITES, deviceSuite, deviceSuiteNames } from "../builds"

describe("firmware modules in the VM", function () {
    // Builds wait for the cross-process build lock while other test files compile (mocha runs files in parallel).
    this.timeout(180000)
    for (const name of deviceSuiteNames().filter((n) => !PEER_SUITES.includes(n))) {
        it(`${name} suite passes`, async () => {
            const { entry, image } = deviceSuite(name)
            const { outFile } = await buildFirmware(entry, image)
            const r = await runDeviceTest(outFile, { timeoutMs: 20000 })
            assert.ok(r.passed, r.output.join("\n"))
            assert.match(r.output.join("\n"), /tests: \d+, pass: \d+, error: 0/)
        })
    }
})
