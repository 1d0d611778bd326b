// runDeviceTest behaves like `devs run --test --test-self-exit`: a failing suite fails the run.
import * as assert from "assert"
import { runDeviceTest } from "../../sim/host/run-device-test"
import { buildFixture } from "./fixtures"

describe("runDeviceTest", function () {
    this.timeout(60000)
    let suite: string

    before(async () => {
        suite = await buildFixture("suite")
    })

    it("passes when every test of the suite passes", async () => {
        const r = await runDeviceTest(suite)
        assert.ok(r.passed, r.output.join("\n"))
        assert.ok(r.output.includes("tests: 2, pass: 2, error: 0"), r.output.join("\n"))
    })

    it("fails with the failed expectation in the output when a test fails", async () => {
        const r = await runDeviceTest(suite, { settings: { FAIL: true } })
        assert.strictEqual(r.passed, false)
        assert.ok(r.output.includes("tests: 2, pass: 1, error: 1"), r.output.join("\n"))
        assert.ok(r.output.includes("! message: toBe: Expected 3, got 2"), r.output.join("\n"))
    })

    it("fails on timeout when the program never finishes its suite", async () => {
        const r = await runDeviceTest(await buildFixture("device-basics"), { timeoutMs: 300 })
        assert.strictEqual(r.passed, false)
        assert.strictEqual(r.output[r.output.length - 1], "timeout: no result within 300 ms")
    })
})
