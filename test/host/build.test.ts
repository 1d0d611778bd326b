// buildFirmware: compiles with the pinned CLI, skips up-to-date outputs, keeps concurrent builds apart.
import * as assert from "assert"
import * as fs from "fs"
import * as path from "path"
import { buildFirmware } from "../../sim/host/build"
import { runDeviceTest } from "../../sim/host/run-device-test"
import { ROOT } from "../../sim/paths"
import { buildFixture } from "./fixtures"

const FIXTURES = path.join(ROOT, "test", "device-fixtures")
const OUT = path.join(ROOT, "build", "host-build-test")

describe("buildFirmware", function () {
    // Builds wait for the cross-process build lock while other test files compile (mocha runs files in parallel).
    this.timeout(180000)
    after(() => fs.rmSync(OUT, { recursive: true, force: true }))

    it("skips a build whose output is newer than the sources", async () => {
        const file = await buildFixture("suite")
        const before = fs.statSync(file).mtimeMs
        const again = await buildFirmware(path.join(FIXTURES, "suite.ts"), file)
        assert.strictEqual(fs.statSync(file).mtimeMs, before)
        assert.strictEqual(again.bytes, fs.statSync(file).size)
    })

    it("serializes concurrent forced builds, each output its own program", async () => {
        const [suite, basics] = await Promise.all([
            buildFirmware(path.join(FIXTURES, "suite.ts"), path.join(OUT, "suite.devs"), { force: true }),
            buildFirmware(path.join(FIXTURES, "device-basics.ts"), path.join(OUT, "basics.devs"), { force: true }),
        ])
        assert.ok((await runDeviceTest(suite.outFile)).passed)
        const basicsRun = await runDeviceTest(basics.outFile, { timeoutMs: 300 })
        assert.strictEqual(basicsRun.output[0], "fixture: first line")
    })

    it("rejects with the compiler's diagnostics when the program does not compile", async () => {
        fs.mkdirSync(OUT, { recursive: true })
        const entry = path.join(OUT, "broken.ts")
        fs.writeFileSync(entry, "const n: number = \n")
        await assert.rejects(buildFirmware(entry, path.join(OUT, "broken.devs")), /devs build .*broken\.ts failed \(exit \d+\):\n[\s\S]*broken\.ts/)
        assert.ok(!fs.existsSync(path.join(OUT, "broken.devs")))
    })
})
