// Settings the way `devs` deploys them: .env parsing rules, value encoding and the size limits.
import * as assert from "assert"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import { encodeSettingsSet, parseEnvSettings, readEnvSettings } from "../../sim/host/device-settings"

describe("device settings", () => {
    it("parses .env text like devs: JSON scalars, raw text, dropped # lines, spaces kept in values", () => {
        const text = [
            "ID_SCOPE=0ne00000001",
            "PORT=8883",
            "ENABLED=true",
            'QUOTED="two words"',
            "SPACED = padded ",
            "# a comment",
            "URL=https://x#frag",
            "NOEQUALS",
            "A=b=c",
        ].join("\r\n")
        assert.deepStrictEqual(parseEnvSettings(text, "t"), {
            ID_SCOPE: "0ne00000001",
            PORT: 8883,
            ENABLED: true,
            QUOTED: "two words",
            SPACED: " padded ",
            A: "b=c",
        })
    })

    it("lets later files override earlier ones, an empty value removing the key", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "env-"))
        const defaults = path.join(dir, ".env.defaults")
        const local = path.join(dir, ".env.local")
        fs.writeFileSync(defaults, "HOST=localhost\nKEY=public\nMODEL=dtmi:x;1\n")
        fs.writeFileSync(local, "KEY=secret\nMODEL=\n")
        assert.deepStrictEqual(readEnvSettings([defaults, local, path.join(dir, "missing")]), { HOST: "localhost", KEY: "secret" })
        fs.rmSync(dir, { recursive: true })
    })

    it("refuses object values", () => {
        assert.throws(() => parseEnvSettings('OBJ={"a":1}', ".env.local"), /\.env\.local: OBJ: objects and arrays/)
    })

    it("encodes a set command as key, NUL, then the value's JSON text", () => {
        assert.deepStrictEqual(encodeSettingsSet("K", "a b"), Buffer.from('K\0"a b"'))
        assert.deepStrictEqual(encodeSettingsSet("N", 42), Buffer.from("N\x0042"))
    })

    it("refuses keys and values the firmware could not read back, without echoing the value", () => {
        assert.throws(() => encodeSettingsSet("FOURTEEN_CHARS", 1), /1-13 printable characters/)
        assert.throws(() => encodeSettingsSet("", 1), /1-13 printable characters/)
        const secret = "s".repeat(300)
        assert.throws(
            () => encodeSettingsSet("KEY", secret),
            (e: Error) => /setting KEY: key \+ value take 305 bytes, the device supports at most 230/.test(e.message) && !e.message.includes("sss")
        )
        assert.doesNotThrow(() => encodeSettingsSet("KEY", "s".repeat(225)))
    })
})
