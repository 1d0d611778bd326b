// `npm start -- --device-only`: the simulated device alone, against the endpoints its settings name
// (here an emulator the test runs, as Azure would be), trusting the Azure roots plus --trust files.
import * as assert from "assert"
import { ChildProcess, spawn } from "child_process"
import * as fs from "fs"
import * as path from "path"
import { ROOT } from "../../sim/paths"
import { individual } from "../emulator/fixtures"
import { ID_SCOPE, RunningEmulator, startTestEmulator, tempDir } from "../support/emulator"
import { until } from "./harness"

describe("npm start -- --device-only", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    let child: ChildProcess | undefined
    const dev = individual("device-only-01")

    before(async () => {
        emu = await startTestEmulator({ enrollments: [dev] })
    })
    after(async () => {
        child?.kill("SIGKILL")
        await emu?.stop()
    })

    it("provisions and sends telemetry with the settings' endpoints and no emulator of its own, stops on SIGTERM", async () => {
        const dir = tempDir("device-only")
        const env = path.join(dir, ".env")
        fs.writeFileSync(
            env,
            [
                `ID_SCOPE=${ID_SCOPE}`,
                "REG_ID=device-only-01",
                `DEVICE_KEY=${dev.attestation.primaryKey}`,
                `DPS_HOST=localhost:${emu.mqttPort}`,
                `TIME_HOST=localhost:${emu.httpsPort}`,
                "INTERVAL=1",
                "",
            ].join("\n")
        )
        const ca = path.join(dir, "ca.pem")
        fs.writeFileSync(ca, emu.ca)
        let out = ""
        child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "sim/start.ts", "--device-only", "--env", env, "--trust", ca], { cwd: ROOT })
        child.stdout!.on("data", (b) => (out += b))
        child.stderr!.on("data", (b) => (out += b))
        const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)))
        await until("acknowledged telemetry", () => /device +│ hub: telemetry #1 acknowledged/.test(out) || undefined, 40000).catch((e: Error) => {
            throw new Error(`${e.message}\n${out}`)
        })
        assert.match(out, /device only: device-only-01 against DPS localhost:\d+ .*trusts 3 CA certificate\(s\)/)
        assert.doesNotMatch(out, /emulator +│/)
        assert.strictEqual(emu.emulator.service.telemetry("device-only-01").length >= 1, true)
        child.kill("SIGTERM")
        assert.strictEqual(await exited, 0)
    })
})
