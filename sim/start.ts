// `npm start`: the emulator with its default configuration and the firmware image
// booted in the simulator host, with both sides' progress on one console.
import * as fs from "fs"
import * as path from "path"
import { parseArgs } from "util"
import { Emulator, EmulatorConfig, describeEvent, enrollmentId, loadConfig } from "./emulator"
import { DeviceSettings } from "./host/device-settings"
import { SimulatedDevice } from "./host/device"
import { buildFirmware } from "./host/build"
import { FirmwareImage, loadImage, readEnvSettings } from "./host/image"
import { certFiles, createDevice, createRoot, createVerification } from "./pki/cert-tool"
import {
    AZURE_ROOT_CAS,
    EDGE_ROOT_CA,
    EMULATOR_CONFIG,
    LEAF_REG_ID,
    EMULATOR_ROOT_CA,
    EMULATOR_DEVICE_ENV,
    EMULATOR_SECRETS,
    ENV_DEFAULTS,
    ENV_LOCAL,
    FIRMWARE_ENTRY,
    FIRMWARE_IMAGE,
    ROOT,
    SIMULATED_BOARDS,
    X509_DEMO_CA,
    X509_DEMO_DIR,
    X509_CERTS_DIR,
    X509_DEMO_REG_ID,
} from "./paths"
import { setup } from "./setup"
import { demoEnvFiles } from "./demo-settings"
import { endpointSettings, onEphemeralPorts } from "./demo-ports"
import { until } from "./wait"

const STEP_TIMEOUT_MS = 60000

function say(who: "emulator" | "device" | "demo", line: string) {
    console.log(`${who.padEnd(8)} │ ${line}`)
}

/** The device's words when it stops (a configuration error) or is refused (it would wait and ask again). */
const DEVICE_GIVES_REASON = /^fatal: (.*)|^dps: (.*); asking again in /

/** Console lines before this index may hold a refusal the demo caused on purpose (the X.509 scenario's). */
let expectedRefusalsUpTo = 0

/** Resolves with the first line matching `ok`; rejects with the device's own words when it stops or is refused. */
async function expectLine(device: SimulatedDevice, ok: RegExp, what: string): Promise<RegExpMatchArray> {
    let onLine: () => void = () => {}
    const refused = new Promise<never>((_, reject) => {
        onLine = () => {
            const m = device.consoleLines
                .slice(expectedRefusalsUpTo)
                .map((l) => l.match(DEVICE_GIVES_REASON))
                .find((r) => r)
            if (m) reject(new Error(m[1] ?? `${m[2]} (the device keeps asking; see the settings in .env.defaults / .env.local)`))
        }
        device.on("console", onLine)
        onLine()
    })
    const wanted = device.waitForConsole(ok, STEP_TIMEOUT_MS).catch((e: Error) => {
        throw new Error(`no ${what} within ${STEP_TIMEOUT_MS / 1000} s\n${e.message}`)
    })
    try {
        return await Promise.race([wanted, refused])
    } finally {
        device.off("console", onLine)
        wanted.catch(() => {})
    }
}

function poll<T>(what: string, f: () => T | undefined | false): Promise<T> {
    return until(what, f, STEP_TIMEOUT_MS)
}

/** What an operator would do from the cloud side, each step visible on both ends. */
async function serviceSide(emulator: Emulator, device: SimulatedDevice, deviceId: string) {
    const service = emulator.service
    say("demo", `service: set desired telemetryInterval = 2 (az iot hub device-twin update)`)
    const { version } = service.updateDesired(deviceId, { telemetryInterval: 2 })
    await expectLine(device, new RegExp(`^app: desired version ${version} applied`), "the desired property applied")
    const ack = await poll("the reported acknowledgement", () => {
        const r = (service.getTwin(deviceId).properties.reported as Record<string, { av?: number }>).telemetryInterval
        return r?.av === version ? r : undefined
    })
    say("demo", `service: twin reported telemetryInterval = ${JSON.stringify(ack)} (desired version ${version})`)
    say("demo", "service: invoke direct method getDeviceState (az iot hub invoke-device-method)")
    const state = await service.invokeMethod(deviceId, "getDeviceState", null, 10)
    say("demo", `service: method answered ${state.status} ${JSON.stringify(state.payload)}`)
    say("demo", "service: send C2D message 'hello from the cloud' (az iot device c2d-message send)")
    service.sendC2d(deviceId, "hello from the cloud", { properties: { source: "demo" } })
    await expectLine(device, /^hub: c2d message .*hello from the cloud/, "the C2D message")
    const before = service.telemetry(deviceId).length
    await expectLine(device, new RegExp(`^hub: telemetry #${before + 2} acknowledged`), "telemetry at the new interval")
}

/**
 * The leaf of the IoT Edge scenario: same firmware, its own registration, GATEWAY_HOST set, and an image
 * that trusts the edge root besides the emulator's and Azure's roots. `endpoints` as for settingsImage.
 */
function leafImage(config: EmulatorConfig, edgePort: number, endpoints: DeviceSettings): FirmwareImage {
    const enrollment = config.enrollments.find((e) => enrollmentId(e) === LEAF_REG_ID)
    if (!enrollment?.attestation.primaryKey) throw new Error(`no enrollment ${LEAF_REG_ID} in ${EMULATOR_CONFIG}`)
    const gw = config.edges[0]
    say("demo", `leaf ${LEAF_REG_ID} behind IoT Edge gateway ${gw.deviceId} at ${gw.hostName}:${edgePort}`)
    return loadImage({
        bytecodeFile: FIRMWARE_IMAGE,
        envFiles: [ENV_DEFAULTS],
        trustAnchorFiles: [EMULATOR_ROOT_CA, EDGE_ROOT_CA, ...AZURE_ROOT_CAS],
        settings: { ...endpoints, REG_ID: LEAF_REG_ID, DEVICE_KEY: enrollment.attestation.primaryKey, GATEWAY_HOST: `${gw.hostName}:${edgePort}` },
    })
}

/** The demo's settings files: the emulator's key under the user's .env.local, unless that points elsewhere. */
function demoSettings(idScope: string): string[] {
    const { envFiles, note } = demoEnvFiles({ defaults: ENV_DEFAULTS, emulatorKey: EMULATOR_DEVICE_ENV, local: ENV_LOCAL }, idScope)
    if (note) say("demo", note)
    return envFiles
}

/**
 * The device of `envFiles` (.env.defaults + .env.local, with the emulator's key for the demo). With
 * ATTESTATION=x509 its image also carries the certificate chain and key `npm run certs -- device <REG_ID>`
 * wrote, as a board's flash would. `endpoints` overrides the files' DPS_HOST/TIME_HOST (--ephemeral-ports).
 */
function settingsImage(bytecodeFile: string, envFiles: string[], trustAnchorFiles: string[], endpoints: DeviceSettings = {}): FirmwareImage {
    const settings = readEnvSettings(envFiles)
    const files = settings.ATTESTATION === "x509" ? certFiles(X509_CERTS_DIR, String(settings.REG_ID)) : undefined
    if (files && !fs.existsSync(files.fullchainFile))
        throw new Error(
            `ATTESTATION=x509: no ${path.relative(ROOT, files.fullchainFile)}; make it with npm run certs -- device ${settings.REG_ID} --ca <CA name>`
        )
    return loadImage({
        bytecodeFile,
        envFiles,
        trustAnchorFiles,
        settings: endpoints,
        clientIdentity: files && { certFile: files.fullchainFile, keyFile: files.keyFile },
    })
}

/** The firmware, or with `--board` the simulated board's entry: its part models, then the same firmware. */
async function firmwareFor(board: string | undefined): Promise<string> {
    if (board === undefined) return FIRMWARE_IMAGE
    const sim = SIMULATED_BOARDS[board]
    if (!sim) throw new Error(`no part models for board ${board} in the simulator (it has: ${Object.keys(SIMULATED_BOARDS).join(", ")})`)
    const { outFile, bytes } = await buildFirmware(sim.entry, sim.image)
    say("demo", `board ${board}: its HTS221, LPS22HB and button models run under the real drivers (${bytes} bytes of bytecode)`)
    return outFile
}

type Args = ReturnType<typeof parseCommandLine>

function parseCommandLine() {
    return parseArgs({
        options: {
            edge: { type: "boolean", default: false },
            x509: { type: "boolean", default: false },
            "keep-running": { type: "boolean", default: false },
            "ephemeral-ports": { type: "boolean", default: false },
            board: { type: "string" },
            "device-only": { type: "boolean", default: false },
            env: { type: "string", multiple: true },
            trust: { type: "string", multiple: true },
        },
    }).values
}

/**
 * `--device-only`: the simulated device alone against the endpoints in the settings (real Azure, or an
 * emulator someone else runs): no emulator, no scripted cloud side. It trusts the Azure public roots and
 * any `--trust` PEM file, runs until Ctrl-C, and exits 1 on the firmware's `fatal:` line.
 */
async function deviceOnly(args: Args): Promise<void> {
    const envFiles = args.env ?? [ENV_DEFAULTS, ENV_LOCAL]
    const bytecodeFile = args.board ? await firmwareFor(args.board) : (await buildFirmware(FIRMWARE_ENTRY, FIRMWARE_IMAGE)).outFile
    const image = settingsImage(bytecodeFile, envFiles, [...AZURE_ROOT_CAS, ...(args.trust ?? [])])
    say(
        "demo",
        `device only: ${image.settings.REG_ID} against DPS ${image.settings.DPS_HOST ?? "global.azure-devices-provisioning.net"} (settings ${envFiles.map((f) => path.relative(ROOT, f)).join(", ")}; trusts ${image.trustAnchors.length} CA certificate(s))`
    )
    const device = new SimulatedDevice(image)
    device.on("console", (line) => say("device", line))
    try {
        await device.boot()
        const fatal = device.waitForConsole(/^fatal: (.*)/, 2 ** 31 - 1).then((m) => {
            throw new Error(m[1])
        })
        const stop = new Promise((resolve) => {
            process.once("SIGINT", resolve)
            process.once("SIGTERM", resolve)
        })
        await Promise.race([fatal, stop])
    } finally {
        await device.stop()
    }
}

/** The X.509 device's certificates, made as a user makes them, and its image: no key in its settings. */
async function x509Image(endpoints: DeviceSettings): Promise<{ image: FirmwareImage; rootCertFile: string }> {
    const dir = path.relative(ROOT, X509_DEMO_DIR)
    say("demo", `npm run certs -- root ${X509_DEMO_CA} && npm run certs -- device ${X509_DEMO_REG_ID} --ca ${X509_DEMO_CA}   (--dir ${dir})`)
    const root = await createRoot(X509_DEMO_DIR, X509_DEMO_CA, { force: true })
    const device = await createDevice(X509_DEMO_DIR, X509_DEMO_REG_ID, X509_DEMO_CA, { force: true })
    const image = loadImage({
        bytecodeFile: FIRMWARE_IMAGE,
        envFiles: [ENV_DEFAULTS],
        trustAnchorFiles: [EMULATOR_ROOT_CA, ...AZURE_ROOT_CAS],
        // Asks DPS again 5 s (scaled 0.5..1) after a refusal instead of the default minute, to keep the demo short.
        settings: { ...endpoints, REG_ID: X509_DEMO_REG_ID, ATTESTATION: "x509", REFUSED_RETRY: 5 },
        clientIdentity: { certFile: device.fullchainFile!, keyFile: device.keyFile },
    })
    return { image, rootCertFile: root.certFile }
}

/**
 * Group enrollment with a root CA, as DPS wants it: the root uploaded, the device refused until its owner
 * proves possession of the root's key with a certificate whose CN is the verification code; the device, which
 * never gives up, asks again by itself.
 */
async function proofOfPossession(emulator: Emulator, device: SimulatedDevice, rootCertFile: string): Promise<void> {
    const dps = emulator.dps
    const uploaded = dps.uploadCaCertificate(X509_DEMO_CA, fs.readFileSync(rootCertFile, "utf8"))
    say("demo", `service: CA ${uploaded.name} uploaded (thumbprint ${uploaded.thumbprint}), verified: ${uploaded.isVerified}   (az iot dps certificate create)`)
    await device.boot()
    const refused = await device.waitForConsole(/^dps: (DPS refused .*); asking again in /, STEP_TIMEOUT_MS)
    // That refusal was the point; any later one is a failure again.
    expectedRefusalsUpTo = device.consoleLines.length
    say("demo", `the device is refused while the CA is unverified: ${refused[1]}`)
    const { verificationCode } = dps.generateVerificationCode(X509_DEMO_CA)
    say("demo", `service: verification code ${verificationCode}   (az iot dps certificate generate-verification-code)`)
    const proof = await createVerification(X509_DEMO_DIR, verificationCode, X509_DEMO_CA, { force: true })
    const verified = dps.verifyCaCertificate(X509_DEMO_CA, fs.readFileSync(proof.certFile, "utf8"))
    say(
        "demo",
        `npm run certs -- verification ${verificationCode} --ca ${X509_DEMO_CA}; service: verified: ${verified.isVerified}   (az iot dps certificate verify)`
    )
    say("demo", "the device asks DPS again by itself")
}

/** The simulated board's readings (its drivers on the part models) and button A's message, as the hub got them. */
async function boardReadings(emulator: Emulator, device: SimulatedDevice, deviceId: string) {
    const bodies = () => emulator.service.telemetry(deviceId).map((m) => JSON.parse(m.body.toString()))
    const reading = await poll("a reading with pressure", () => bodies().find((b) => b.pressure !== undefined))
    say("demo", `service: telemetry from the board's sensors: ${JSON.stringify(reading)}`)
    await expectLine(device, /^app: button A pressed/, "button A's message")
    const press = await poll("button A's message at the hub", () => bodies().find((b) => b.button === "A"))
    say("demo", `service: button A's message: ${JSON.stringify(press)}`)
}

/** The gateway loses its uplink for a few readings; they reach the hub once it returns. */
async function uplinkOutage(emulator: Emulator, device: SimulatedDevice, deviceId: string) {
    const service = emulator.service
    const edgeId = service.getDevice(deviceId).parent!
    say("demo", `service: uplink of ${edgeId} down (the gateway stores leaf telemetry)`)
    service.setEdgeUplink(edgeId, false)
    const atHub = service.telemetry(deviceId).length
    const sent = device.consoleLines.filter((l) => l.startsWith("hub: telemetry #")).length
    await poll("3 readings accepted by the gateway", () => device.consoleLines.filter((l) => l.startsWith("hub: telemetry #")).length >= sent + 3)
    say("demo", `service: hub has ${service.telemetry(deviceId).length - atHub} new messages during the outage; uplink up again`)
    service.setEdgeUplink(edgeId, true)
    await poll("the stored readings at the hub", () => service.telemetry(deviceId).length >= atHub + 3)
    const seqs = service.telemetry(deviceId).map((m) => JSON.parse(m.body.toString()).seq)
    say("demo", `service: hub now has telemetry #${seqs.join(", #")} (in order, none twice)`)
}

async function main() {
    const args = parseCommandLine()
    const ephemeral = args["ephemeral-ports"]
    // Both would have the user reach an emulator on its configured ports: --device-only runs none, and the
    // service commands --keep-running suggests read their port from the configuration.
    if (ephemeral && (args["device-only"] || args["keep-running"]))
        throw new Error(`--ephemeral-ports is for the scripted demo's own emulator, not with --${args["device-only"] ? "device-only" : "keep-running"}`)
    if (args["device-only"]) return deviceOnly(args)
    // Setup is idempotent and rebuilds the firmware only when src/ changed since the last build.
    await setup(false)
    // setup() has generated any missing keys into the secrets file.
    const configured = loadConfig(EMULATOR_CONFIG, EMULATOR_SECRETS)
    const config = ephemeral ? onEphemeralPorts(configured) : configured
    const emulator = new Emulator(config)
    emulator.on("event", (name, data) => say("emulator", describeEvent(name, data)))
    const ports = await emulator.start().catch((e: Error) => {
        const busy = ephemeral
            ? ""
            : `; is another one running on ports ${config.ports.mqtt}/${config.ports.https}? (npm start -- --ephemeral-ports takes free ones)`
        throw new Error(`emulator could not start (${e.message})${busy}`)
    })
    say(
        "emulator",
        `DPS and hub on mqtts://localhost:${ports.mqttPort}, DPS REST and time on https://localhost:${ports.httpsPort}, ID scope ${config.dps.idScope}`
    )

    // With the configured ports the device finds the emulator where .env.defaults says; otherwise it is told.
    const endpoints = ephemeral ? endpointSettings(ports) : {}
    const edge = args.edge
    const x509 = args.x509 ? await x509Image(endpoints) : undefined
    const image = edge
        ? leafImage(config, ports.edgePorts[0], endpoints)
        : (x509?.image ?? settingsImage(await firmwareFor(args.board), demoSettings(config.dps.idScope), [EMULATOR_ROOT_CA, ...AZURE_ROOT_CAS], endpoints))
    const identity = image.clientIdentity ? "; presents its X.509 certificate chain" : ""
    say("demo", `booting the firmware (${image.bytecode.length} bytes of bytecode; trusts ${image.trustAnchors.length} CA certificate(s)${identity})`)
    const device = new SimulatedDevice(image)
    device.on("console", (line) => say("device", line))
    try {
        if (x509) await proofOfPossession(emulator, device, x509.rootCertFile)
        else await device.boot()
        const assigned = await expectLine(device, /^dps: assigned to (\S+) as (\S+)/, "DPS assignment")
        const deviceId = assigned[2]
        say("demo", `provisioned: hub ${assigned[1]}, device id ${deviceId}`)
        await expectLine(device, /^hub: connected/, "hub connection")
        await expectLine(device, /^hub: telemetry #2 acknowledged/, "acknowledged telemetry")
        if (edge) await uplinkOutage(emulator, device, deviceId)
        if (args.board) await boardReadings(emulator, device, deviceId)
        await serviceSide(emulator, device, deviceId)
        say(
            "demo",
            `done: provisioned${x509 ? " with X.509" : ""}, connected${edge ? " through the edge gateway" : ""}, telemetry flowing, twin, method and C2D handled`
        )
        if (args["keep-running"]) {
            say("demo", `still running; from another terminal: npm run service -- twin show -d ${deviceId}   (Ctrl-C stops)`)
            await new Promise((resolve) => process.once("SIGINT", resolve))
        }
    } finally {
        await device.stop()
        await emulator.stop()
    }
}

main().then(
    () => process.exit(0),
    (e: Error) => {
        console.error(`error: ${e.message}`)
        process.exit(1)
    }
)
