// A simulated device boots its image like a deployed board: console relayed, settings readable on the
// first read, flash kept across reboots.
import * as assert from "assert"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import { SimulatedDevice } from "../../sim/host/device"
import { FirmwareImage, loadImage } from "../../sim/host/image"
import { buildFixture } from "./fixtures"

describe("simulated device", function () {
    this.timeout(60000)
    let bytecode: Buffer
    let dir: string
    const devices: SimulatedDevice[] = []

    function device(settings: FirmwareImage["settings"] = {}, opts: { flashFile?: string } = {}): SimulatedDevice {
        const d = new SimulatedDevice({ bytecode, settings, trustAnchors: [] }, opts)
        devices.push(d)
        return d
    }

    before(async () => {
        bytecode = fs.readFileSync(await buildFixture("device-basics"))
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "sim-device-"))
    })
    afterEach(async () => {
        await Promise.all(devices.splice(0).map((d) => d.stop()))
    })
    after(() => fs.rmSync(dir, { recursive: true, force: true }))

    it("relays the program's console lines as they come", async () => {
        const d = device()
        const seen: string[] = []
        d.on("console", (line) => seen.push(line))
        await d.boot()
        await d.waitForConsole(/boot number/, 5000)
        assert.deepStrictEqual(seen.slice(0, 2), ["fixture: first line", "fixture: TEXT=[(missing)] COUNT+1=0 FLAG=false"])
        assert.deepStrictEqual(d.consoleLines, seen)
    })

    it("deploys the image's settings before the program's first read", async () => {
        const d = device({ TEXT: "hello  wide world", COUNT: 41, FLAG: true })
        await d.boot()
        const m = await d.waitForConsole(/TEXT=\[(.*)\] COUNT\+1=(\d+) FLAG=(\w+)/, 5000)
        assert.deepStrictEqual(m.slice(1), ["hello  wide world", "42", "true"])
    })

    it("refuses a setting the firmware could not read back, before booting", () => {
        assert.throws(() => device({ TEXT: "x".repeat(300) }), /setting TEXT: key \+ value take 306 bytes/)
    })

    it("keeps the flash across a reboot: settings the firmware wrote survive, the program runs again", async () => {
        const d = device()
        await d.boot()
        await d.waitForConsole(/boot number 1/, 5000)
        await d.reboot()
        await d.waitForConsole(/boot number 2/, 5000)
    })

    it("keeps the flash in a file across processes when given one", async () => {
        const flashFile = path.join(dir, "flash.bin")
        const first = device({}, { flashFile })
        await first.boot()
        await first.waitForConsole(/boot number 1/, 5000)
        await first.stop()
        const second = device({}, { flashFile })
        await second.boot()
        await second.waitForConsole(/boot number 2/, 5000)
    })

    it("starts from blank flash without a flash file", async () => {
        await device().boot()
        const d = device()
        await d.boot()
        await d.waitForConsole(/boot number 1/, 5000)
    })

    it("waitForConsole rejects with the last console lines on timeout", async () => {
        const d = device()
        await d.boot()
        await d.waitForConsole(/boot number/, 5000)
        await assert.rejects(d.waitForConsole(/never printed/, 50), /50 ms passed before a console line matched.*\n(.*\n)* {2}> fixture: boot number 1/)
    })

    it("loads an image from files: bytecode, .env settings overridden by explicit ones, trust anchors", async () => {
        const env = path.join(dir, ".env.defaults")
        fs.writeFileSync(env, "TEXT=from env\nCOUNT=1\n")
        const bytecodeFile = path.join(dir, "fw.devs")
        fs.writeFileSync(bytecodeFile, bytecode)
        const pem = path.join(dir, "none.pem")
        fs.writeFileSync(pem, "not a certificate")
        assert.throws(() => loadImage({ bytecodeFile, envFiles: [env], trustAnchorFiles: [pem] }), /none\.pem: no PEM certificate found/)
        const image = loadImage({ bytecodeFile, envFiles: [env], trustAnchorFiles: [], settings: { COUNT: 7 } })
        assert.deepStrictEqual(image.settings, { TEXT: "from env", COUNT: 7 })
        const d = new SimulatedDevice(image)
        devices.push(d)
        await d.boot()
        await d.waitForConsole(/TEXT=\[from env\] COUNT\+1=8/, 5000)
    })
})
