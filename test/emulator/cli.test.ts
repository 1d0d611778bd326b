// The standalone emulator command: what it prints, the keys it generates (and never prints),
// one line per event, and a clean stop on Ctrl-C.
import * as assert from "assert"
import { ChildProcess, spawn } from "child_process"
import * as fs from "fs"
import * as path from "path"
import { ROOT } from "../../sim/paths"
import { randomKey, tempDir, testPki } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { Emulator, generateMissingKeys, loadConfig } from "../../sim/emulator"
import { ServiceClient } from "../../sim/emulator/service/service-client"

describe("emulator command line", function () {
    this.timeout(30_000)
    let child: ChildProcess
    let out = ""
    let dir: string
    const waitFor = (re: RegExp) =>
        new Promise<RegExpMatchArray>((resolve, reject) => {
            const check = () => {
                const m = out.match(re)
                if (m) return resolve(m)
                if (child.exitCode !== null) reject(new Error(`exited: ${out}`))
                else setTimeout(check, 20)
            }
            check()
        })

    before(async () => {
        const pki = await testPki()
        dir = tempDir("emulator-cli")
        const config = JSON.parse(fs.readFileSync(path.join(ROOT, "sim", "emulator.config.json"), "utf8"))
        config.ports = { mqtt: 0, https: 0, service: 0, edge: 0 }
        for (const e of config.edges) e.tls = { cert: path.resolve(ROOT, "sim", e.tls.cert), key: path.resolve(ROOT, "sim", e.tls.key) }
        config.tls = { cert: pki.serverCertFile, key: pki.serverKeyFile, ca: pki.rootCertFile }
        fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config))
        child = spawn(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                "sim/emulator/cli.ts",
                "--config",
                path.join(dir, "config.json"),
                "--secrets",
                path.join(dir, "secrets.json"),
            ],
            { cwd: ROOT }
        )
        child.stdout!.on("data", (d) => (out += d))
        child.stderr!.on("data", (d) => (out += d))
        await waitFor(/enrollments .*\n/)
    })
    after(() => {
        if (child.exitCode === null) child.kill("SIGKILL")
    })

    it("prints where it listens, which CA to trust, the ID scope and the enrollment ids", async () => {
        const pki = await testPki()
        assert.match(out, /mqtts:\/\/127\.0\.0\.1:\d+/)
        assert.match(out, /https:\/\/127\.0\.0\.1:\d+/)
        assert.match(out, /dashboard on https:\/\/127\.0\.0\.1:\d+\/dashboard\/ \(npm run dashboard prints what to sign in with\)/)
        assert.ok(out.includes(`clients must trust: ${pki.rootCertFile}`), out)
        assert.match(out, /ID scope 0ne0000E4B1/)
        assert.match(out, /sim-device-01 \(individual\), sim-group \(group\)/)
    })

    it("generated keys into the 0600 secrets file and printed none of them", () => {
        const file = path.join(dir, "secrets.json")
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        const secrets = JSON.parse(fs.readFileSync(file, "utf8"))
        for (const s of Object.values<{ primaryKey: string; secondaryKey: string }>(secrets)) {
            assert.ok(!out.includes(s.primaryKey) && !out.includes(s.secondaryKey))
        }
    })

    it("prints one readable line per event", async () => {
        const port = Number(out.match(/mqtts:\/\/127\.0\.0\.1:(\d+)/)![1])
        const c = await RawClient.open(port, fs.readFileSync((await testPki()).rootCertFile, "utf8"))
        assert.strictEqual(await c.connect({ registrationId: "sim-device-01", key: randomKey(), idScope: "0ne0000E4B1" }), 5)
        await waitFor(/dps: refused sim-device-01 \(CONNACK 5\): signature/)
        await waitFor(/dps: sim-device-01 disconnected/)
    })

    it("stops cleanly on SIGINT", async () => {
        const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
        child.kill("SIGINT")
        assert.strictEqual(await exit, 0)
        assert.match(out, /emulator: stopped/)
    })
})

describe("emulator command line with --state", function () {
    this.timeout(30_000)

    it("lists the enrollments the service API added in an earlier run", async () => {
        const pki = await testPki()
        const dir = tempDir("emulator-cli-state")
        const configFile = path.join(dir, "config.json")
        const secretsFile = path.join(dir, "secrets.json")
        const stateDir = path.join(dir, "state")
        const raw = {
            ports: { mqtt: 0, https: 0, service: 0 },
            tls: { cert: pki.serverCertFile, key: pki.serverKeyFile, ca: pki.rootCertFile },
            dps: { idScope: "0ne0000E4B1" },
            hubs: [{ hostName: "localhost" }],
            enrollments: [{ registrationId: "from-config", attestation: { type: "symmetricKey" } }],
        }
        fs.writeFileSync(configFile, JSON.stringify(raw))
        const config = generateMissingKeys(loadConfig(configFile, secretsFile), secretsFile)
        const earlier = new Emulator(config, { stateDir })
        const { servicePort } = await earlier.start()
        const client = new ServiceClient({
            host: "localhost",
            port: servicePort!,
            ca: fs.readFileSync(pki.rootCertFile, "utf8"),
            hub: "localhost",
            serviceKey: config.service.primaryKey!,
        })
        await client.azure("dps", "PUT", "/enrollments/from-api", { attestation: { type: "symmetricKey" } })
        await earlier.stop()

        const child = spawn(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", "sim/emulator/cli.ts", "--config", configFile, "--secrets", secretsFile, "--state", stateDir],
            { cwd: ROOT }
        )
        let out = ""
        child.stdout!.on("data", (d) => (out += d))
        child.stderr!.on("data", (d) => (out += d))
        try {
            const line = await new Promise<string>((resolve, reject) => {
                const check = () => {
                    const m = /emulator: enrollments .*\n/.exec(out)
                    if (m) return resolve(m[0])
                    if (child.exitCode !== null) reject(new Error(`exited: ${out}`))
                    else setTimeout(check, 20)
                }
                check()
            })
            assert.match(line, /from-config \(individual\), from-api \(individual\)/)
        } finally {
            child.kill("SIGKILL")
            fs.rmSync(dir, { recursive: true, force: true })
        }
    })
})
