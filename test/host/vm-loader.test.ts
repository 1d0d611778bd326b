// The VM is cut out of the CLI bundle by its layout: these fail loudly, naming the CLI version, if it changes.
import * as assert from "assert"
import * as fs from "fs"
import { cliBundle, cliVersion, cutVmModule, extractVmFactory, loadVmFactory, vmCacheFile } from "../../sim/host/vm-loader"
import { SETTINGS_SERVICE_CLASS } from "../../sim/host/device-settings"
import { jdCrc16, jdFindAnnouncedService } from "../../sim/host/jacdac-frame"

describe("VM loader", () => {
    it("loads the VM embedded in the pinned CLI", async () => {
        assert.strictEqual(cliVersion(), "2.16.4", "the simulator host was written against @devicescript/cli 2.16.4")
        const vm = await loadVmFactory()()
        assert.strictEqual(typeof vm.devsDeploy, "function")
    })

    it("creates independent instances, one per device", async () => {
        const factory = loadVmFactory()
        const [a, b] = await Promise.all([factory(), factory()])
        assert.notStrictEqual(a, b)
        assert.notStrictEqual(a.HEAPU8.buffer, b.HEAPU8.buffer)
    })

    it("keeps the VM module cut from the bundle in build/vm, exactly as cut, for the next process", async () => {
        await loadVmFactory()()
        const file = vmCacheFile(cliBundle(), cliVersion())
        assert.ok(fs.existsSync(file), `${file} was not written`)
        assert.strictEqual(fs.readFileSync(file, "utf8"), cutVmModule(fs.readFileSync(cliBundle(), "utf8"), cliVersion()))
    })

    it("names the CLI version when the bundle no longer has the VM module", () => {
        assert.throws(() => extractVmFactory("var x = 1;\n", "9.9.9"), /@devicescript\/cli 9\.9\.9: bundle layout changed/)
    })

    it("speaks the VM's Jacdac: its announce frame checks out and lists the Settings service", async () => {
        const vm = await loadVmFactory()()
        vm.dmesg = () => {}
        const frame = await new Promise<Uint8Array>((resolve) => {
            vm.sendPacket = resolve
            vm.devsStart()
        })
        vm.devsStop()
        const buf = Buffer.from(frame)
        assert.strictEqual(jdCrc16(buf.subarray(2, 12 + buf[2])), buf.readUInt16LE(0))
        assert.strictEqual(jdFindAnnouncedService(buf, SETTINGS_SERVICE_CLASS), 4)
    })
})
