// Every command line parses the same way (Node's util.parseArgs): an unknown option, or an option without its
// value, is refused with the usage instead of being ignored.
import * as assert from "assert"
import * as path from "path"
import { parse as parseCertArgs } from "../../sim/pki/cert-cli"
import { parseEmulatorArgs } from "../../sim/emulator/cli"
import { parseCliArgs } from "../../sim/emulator/service/service-cli"

describe("command lines", () => {
    it("npm run certs: options anywhere, unknown ones refused with the usage", () => {
        const c = parseCertArgs(["device", "dev-1", "--ca", "My Root", "--days", "7", "--rsa", "--dir", "out"], "/work")
        assert.deepStrictEqual(
            [c.command, c.words, c.ca, c.dir, c.opts],
            ["device", ["dev-1"], "My Root", path.resolve("/work", "out"), { algorithm: "rsa-2048", days: 7, force: false }]
        )
        assert.throws(() => parseCertArgs(["root", "--ecc"], "/work"), /Unknown option '--ecc'[\s\S]*usage: npm run certs/)
        assert.throws(() => parseCertArgs(["device", "d", "--ca"], "/work"), /argument missing[\s\S]*usage:/)
        assert.throws(() => parseCertArgs(["root", "--days", "ten"], "/work"), /--days needs a whole number/)
        assert.strictEqual(parseCertArgs(["-h"], "/work").command, "help")
    })

    it("npm run emulator: --config, --secrets, --state, --fresh; nothing else", () => {
        assert.deepStrictEqual(parseEmulatorArgs(["--config", "c.json", "--state", "s", "--fresh"]), { config: "c.json", state: "s", fresh: true, help: false })
        assert.throws(() => parseEmulatorArgs(["--config", "c.json", "--stat", "s"]), /Unknown option '--stat'[\s\S]*usage: cli\.ts --config/)
        assert.throws(() => parseEmulatorArgs(["--config"]), /argument missing/)
    })

    it("npm run service: az's flags", () => {
        assert.throws(() => parseCliArgs(["device", "show", "--deviceid", "x"]), /Unknown option '--deviceid'/)
        assert.strictEqual(parseCliArgs(["device", "show", "-d", "x"]).options.get("device-id"), "x")
    })
})
