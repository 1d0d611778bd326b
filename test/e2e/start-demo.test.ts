// `npm start` as a user runs it: each scenario a child process of sim/start.ts, on ephemeral ports (the configured
// ones may be taken by a developer's `npm run emulator`, and test files run side by side), its console read for the
// story's steps in order. `npm test` runs the plain and the X.509 scenarios; `npm run test:demo` runs all four
// (DEMO_SCENARIOS=all): together they take a worker 85-95 s, more than `npm test` can spare.
import * as assert from "assert"
import { ChildProcess, spawn } from "child_process"
import * as crypto from "crypto"
import * as fs from "fs"
import * as path from "path"
import { endpointSettings } from "../../sim/demo-ports"
import { loadConfig } from "../../sim/emulator"
import { buildFirmware } from "../../sim/host/build"
import { readEnvSettings } from "../../sim/host/image"
import {
    EMULATOR_CONFIG,
    ENV_DEFAULTS,
    ENV_LOCAL,
    FIRMWARE_ENTRY,
    FIRMWARE_IMAGE,
    ROOT,
    SIMULATED_BOARDS,
    X509_CERTS_DIR,
    X509_DEMO_DIR,
} from "../../sim/paths"

const ALL = process.env.DEMO_SCENARIOS === "all"
/** A scenario alone takes 17-33 s here; the margin is for a machine busy with the rest of `npm test`. */
const RUN_TIMEOUT_MS = 150000

interface Line {
    who: string
    text: string
}

interface Run {
    code: number | null
    lines: Line[]
    output: string
}

let child: ChildProcess | undefined

function runStart(flags: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
        const c = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "sim/start.ts", "--ephemeral-ports", ...flags], { cwd: ROOT })
        child = c
        let output = ""
        c.stdout!.on("data", (b) => (output += b))
        c.stderr!.on("data", (b) => (output += b))
        const timer = setTimeout(() => {
            c.kill("SIGKILL")
            reject(new Error(`npm start ${flags.join(" ")} still running after ${RUN_TIMEOUT_MS / 1000} s:\n${output}`))
        }, RUN_TIMEOUT_MS)
        c.once("error", reject)
        c.once("close", (code) => {
            clearTimeout(timer)
            const lines = output
                .split("\n")
                .map((l) => l.match(/^(\S+) +│ (.*)$/))
                .filter((m) => m !== null)
                .map((m) => ({ who: m![1], text: m![2] }))
            resolve({ code, lines, output })
        })
    })
}

/** Each step found after the previous one, as `who │ text`; their matches in order. */
function story(run: Run, steps: [who: string, text: RegExp][]): RegExpMatchArray[] {
    let from = 0
    return steps.map(([who, re]) => {
        const i = run.lines.findIndex((l, at) => at >= from && l.who === who && re.test(l.text))
        assert.ok(i >= 0, `no "${who} │ ${re.source}" after line ${from} of the story:\n${run.output}`)
        from = i + 1
        return run.lines[i].text.match(re)!
    })
}

/** The user's files the demo may read but never write: content by path (null: absent). */
function userFiles(): Record<string, string | null> {
    const out: Record<string, string | null> = { [ENV_LOCAL]: fs.existsSync(ENV_LOCAL) ? hash(ENV_LOCAL) : null }
    const walk = (dir: string) => {
        if (!fs.existsSync(dir)) return
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name)
            if (e.isDirectory()) walk(p)
            else out[p] = hash(p)
        }
    }
    walk(X509_CERTS_DIR)
    return out
}

function hash(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")
}

const configured = loadConfig(EMULATOR_CONFIG)

/** Runs a scenario; checks it exits 0 having used no configured port, leaving the user's files and the built programs alone. */
async function scenario(flags: string[], images: string[]): Promise<Run> {
    const before = userFiles()
    const built = images.map((f) => fs.statSync(f).mtimeMs)
    const run = await runStart(flags)
    assert.strictEqual(run.code, 0, run.output)
    const [[, mqtt, https]] = story(run, [["emulator", /^DPS and hub on mqtts:\/\/localhost:(\d+), DPS REST and time on https:\/\/localhost:(\d+)/]])
    assert.ok(![configured.ports.mqtt, configured.ports.https].includes(Number(mqtt)), run.output)
    assert.notStrictEqual(Number(https), configured.ports.https)
    // The device was told the ports the OS picked: its clock from this emulator's HTTPS face, DPS on its MQTT port.
    story(run, [
        ["emulator", /^dps: HEAD \/ from /],
        ["device", /^clock: \d+ s since epoch/],
        ["device", new RegExp(`^dps: connecting to localhost:${mqtt} `)],
    ])
    assert.deepStrictEqual(userFiles(), before, "the demo wrote .env.local or certs/x509")
    assert.deepStrictEqual(
        images.map((f) => fs.statSync(f).mtimeMs),
        built,
        "the demo rebuilt a program that was up to date"
    )
    return run
}

/** The part every scenario shares once the device is on the hub: twin, method, C2D, then the closing line. */
function serviceSide(deviceId: string): [string, RegExp][] {
    return [
        ["demo", /^service: set desired telemetryInterval = 2/],
        ["device", /^app: desired version \d+ applied/],
        ["demo", /^service: twin reported telemetryInterval = \{"value":2,"ac":200/],
        ["emulator", new RegExp(`^hub: method getDeviceState on ${deviceId} answered 200$`)],
        ["demo", /^service: method answered 200 \{"firmwareVersion"/],
        ["device", new RegExp(`^hub: c2d message .*\\$\\.to=/devices/${deviceId}/messages/deviceBound .*body hello from the cloud$`)],
    ]
}

describe("npm start scenarios (sim/start.ts, ephemeral ports)", function () {
    this.timeout(RUN_TIMEOUT_MS + 10000)
    const board = SIMULATED_BOARDS.mxchip_s3

    before(async () => {
        // As the other end-to-end tests: up to date after test/builds.ts, so the demo itself builds nothing.
        await buildFirmware(FIRMWARE_ENTRY, FIRMWARE_IMAGE)
        if (ALL) await buildFirmware(board.entry, board.image)
    })
    afterEach(() => {
        child?.kill("SIGKILL")
        child = undefined
    })

    it("without --ephemeral-ports the device's settings name the configured ports", () => {
        const defaults = readEnvSettings([ENV_DEFAULTS])
        const expected = endpointSettings({ mqttPort: configured.ports.mqtt, httpsPort: configured.ports.https, edgePorts: [] })
        assert.deepStrictEqual({ DPS_HOST: defaults.DPS_HOST, TIME_HOST: defaults.TIME_HOST }, expected)
    })

    it("npm start: provisions, connects, sends telemetry, applies a desired property, answers a method, gets a C2D message", async () => {
        const run = await scenario([], [FIRMWARE_IMAGE])
        story(run, [
            ["device", /^dps: assigned to localhost as sim-device-01$/],
            ["device", /^hub: connected$/],
            ["device", /^hub: telemetry #2 acknowledged /],
            ...serviceSide("sim-device-01"),
            ["demo", /^done: provisioned, connected, telemetry flowing, twin, method and C2D handled$/],
        ])
    })

    it("npm start -- --x509: refused while the root is unverified, then verified, then assigned with the certificate", async () => {
        const run = await scenario(["--x509"], [FIRMWARE_IMAGE])
        story(run, [
            ["demo", /presents its X\.509 certificate chain\)$/],
            ["demo", /^service: CA sim-x509-root uploaded .*verified: false/],
            ["emulator", /^dps: refused sim-x509-01 \(CONNACK 5\): CA certificate sim-x509-root .* is not verified/],
            ["device", /^dps: DPS refused the credentials of sim-x509-01: .*; asking again in /],
            ["demo", /^service: verification code [0-9A-F]+ /],
            ["emulator", /^dps: CA certificate sim-x509-root verified \(verified: true\)$/],
            ["emulator", /^dps: sim-x509-01 connected \(group enrollment sim-x509-group, X\.509 CN=sim-x509-01 /],
            ["device", /^dps: assigned to localhost as sim-x509-01$/],
            ["emulator", /^hub: sim-x509-01 connected to localhost \(X\.509 certificateAuthority /],
            ["device", /^hub: telemetry #2 acknowledged /],
            ...serviceSide("sim-x509-01"),
            ["demo", /^done: provisioned with X\.509, connected, /],
        ])
        // The demo's certificates in a directory of their own, not the user's certs/x509.
        assert.ok(fs.statSync(path.join(X509_DEMO_DIR, "sim-x509-01_cert.pem")).mtimeMs > Date.now() - RUN_TIMEOUT_MS)
    })

    ;(ALL ? it : it.skip)("npm start -- --edge: the leaf's readings stored during the uplink outage reach the hub in order (npm run test:demo)", async () => {
        const run = await scenario(["--edge"], [FIRMWARE_IMAGE])
        const [[, port]] = story(run, [
            ["demo", /^leaf sim-leaf-01 behind IoT Edge gateway edge-gw-01 at localhost:(\d+)$/],
            ["device", /^dps: assigned to localhost as sim-leaf-01$/],
        ])
        assert.notStrictEqual(Number(port), configured.edges[0].port)
        story(run, [
            ["device", new RegExp(`^hub: connecting to gateway localhost:${port} as sim-leaf-01$`)],
            ["emulator", /^hub: sim-leaf-01 connected to localhost through edge-gw-01 /],
            ["emulator", /^edge edge-gw-01: uplink down$/],
            ["emulator", /^edge edge-gw-01: stored a message from sim-leaf-01 \(3 pending\)$/],
            ["emulator", /^edge edge-gw-01: uplink up \([3-9] stored messages\)$/],
            ...serviceSide("sim-leaf-01"),
            ["demo", /^done: provisioned, connected through the edge gateway, /],
        ])
        // What the hub got, by its own log: every reading once, in order, none while the uplink was down.
        const down = run.lines.findIndex((l) => l.text === "edge edge-gw-01: uplink down")
        const up = run.lines.findIndex((l) => l.text.startsWith("edge edge-gw-01: uplink up"))
        const atHub = run.lines
            .map((l, i) => ({ i, m: l.who === "emulator" ? l.text.match(/^hub: sim-leaf-01 telemetry #\d+ via edge-gw-01: .*"seq":(\d+)/) : null }))
            .filter((x) => x.m)
        assert.ok(atHub.length >= 5, run.output)
        assert.deepStrictEqual(
            atHub.map((x) => Number(x.m![1])),
            atHub.map((_, k) => k + 1),
            run.output
        )
        assert.ok(!atHub.some((x) => x.i > down && x.i < up), "the hub got a reading while the uplink was down")
    })

    ;(ALL ? it : it.skip)(
        "npm start -- --board mxchip_s3: the board's sensors' readings with pressure, and button A's message (npm run test:demo)",
        async () => {
            const run = await scenario(["--board", "mxchip_s3"], [FIRMWARE_IMAGE, board.image])
            // Button A is pressed 5 s after boot, before or after the hub connection (the message waits in the queue).
            const [, , [, press]] = story(run, [
                ["demo", /^board mxchip_s3: its HTS221, LPS22HB and button models run under the real drivers/],
                ["device", /^app: button A pressed/],
                ["demo", /^service: button A's message: (.*)$/],
                ...serviceSide("sim-device-01"),
                ["demo", /^done: provisioned, connected, /],
            ])
            const [, , [, reading]] = story(run, [
                ["device", /^dps: assigned to localhost as sim-device-01$/],
                ["device", /^hub: connected$/],
                ["demo", /^service: telemetry from the board's sensors: (.*)$/],
                ["demo", /^service: button A's message: /],
            ])
            const r = JSON.parse(reading)
            // The part models' climate and the LPS22HB's range (260..1260 hPa), as the drivers read them.
            assert.ok(r.pressure >= 260 && r.pressure <= 1260 && typeof r.temperature === "number" && typeof r.humidity === "number", reading)
            assert.strictEqual(JSON.parse(press).button, "A")
        }
    )
})
