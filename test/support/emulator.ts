// The one way tests configure and start an emulator: a typed configuration (the emulator's own
// input type) over test defaults (ephemeral ports, the test PKI in a temp dir, ID_SCOPE with
// retry-after 0, hub localhost and a random service key), validated as the emulator validates a
// file, then started with every event recorded.
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import { randomBytes } from "crypto"
import { Emulator, EmulatorConfig, EmulatorConfigInput, EmulatorEventName, EmulatorEvents, EmulatorOptions, validateConfig } from "../../sim/emulator"
import { EdgePkiFiles, TestPkiFiles, writeEdgePki, writeTestPki } from "../../sim/pki"

export const ID_SCOPE = "0ne00000A0A"

export function randomKey(): string {
    return randomBytes(32).toString("base64")
}

const tempDirs: string[] = []

/** A fresh directory under the OS temp dir, removed when the test process exits. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
    // One exit listener for them all: a listener each tripped Node's MaxListeners warning.
    if (tempDirs.push(dir) === 1) process.once("exit", () => tempDirs.forEach((d) => void fs.rmSync(d, { recursive: true, force: true })))
    return dir
}

let pki: Promise<TestPkiFiles> | undefined

/** One PKI per test process, in a temp dir. */
export function testPki(): Promise<TestPkiFiles> {
    pki ??= writeTestPki(tempDir("emulator-pki"))
    return pki
}

type Dps = NonNullable<EmulatorConfigInput["dps"]>
export type EnrollmentInput = NonNullable<EmulatorConfigInput["enrollments"]>[number]
export type IndividualEnrollmentInput = Extract<EnrollmentInput, { registrationId: string }>
export type GroupEnrollmentInput = Extract<EnrollmentInput, { enrollmentGroupId: string }>

/** What a test sets; the rest comes from the test defaults. `dps` and `ports` merge with theirs. */
export type TestSettings = Omit<EmulatorConfigInput, "tls" | "dps" | "hubs" | "ports"> & {
    dps?: Partial<Dps>
    hubs?: EmulatorConfigInput["hubs"]
    ports?: EmulatorConfigInput["ports"]
}

/** The validated configuration of `settings` over the test defaults. */
export async function testConfig(settings: TestSettings = {}): Promise<EmulatorConfig> {
    const files = await testPki()
    const input: EmulatorConfigInput = {
        ...settings,
        bind: settings.bind ?? "127.0.0.1",
        ports: { mqtt: 0, https: 0, service: 0, edge: 0, ...settings.ports },
        tls: { cert: files.serverCertFile, key: files.serverKeyFile, ca: files.rootCertFile },
        dps: { idScope: ID_SCOPE, retryAfter: 0, ...settings.dps },
        hubs: settings.hubs ?? [{ hostName: "localhost" }],
        service: settings.service ?? { primaryKey: randomKey() },
    }
    return validateConfig(input)
}

/** An IoT Edge gateway entry for `deviceId` with its own edge PKI (host name localhost), and that PKI. */
export async function testGateway(deviceId: string): Promise<{ gateway: NonNullable<EmulatorConfigInput["edges"]>[number]; pki: EdgePkiFiles }> {
    const edgePki = await writeEdgePki(tempDir("edge-pki"), "localhost")
    return { gateway: { deviceId, tls: { cert: edgePki.serverCertFile, key: edgePki.serverKeyFile } }, pki: edgePki }
}

export interface RunningEmulator {
    emulator: Emulator
    mqttPort: number
    httpsPort: number
    servicePort: number
    /** The service policy's primary key (signs requests to the management endpoint). */
    serviceKey: string
    /** The IoT Edge gateways' ports, in the order of `edges`. */
    edgePorts: number[]
    /** The emulator's root CA (PEM), which devices trust. */
    ca: string
    /** Every event so far, in order. */
    events: { name: EmulatorEventName; data: any }[]
    stop(): Promise<void>
}

/** Starts an emulator on `settings` over the test defaults; `options`: its state directory. */
export async function startTestEmulator(settings: TestSettings = {}, options: EmulatorOptions = {}): Promise<RunningEmulator> {
    const config = await testConfig(settings)
    const emulator = new Emulator(config, options)
    const events: RunningEmulator["events"] = []
    emulator.on("event", (name, data) => events.push({ name, data }))
    const { mqttPort, httpsPort, servicePort, edgePorts } = await emulator.start()
    const ca = fs.readFileSync((await testPki()).rootCertFile, "utf8")
    return {
        emulator,
        mqttPort,
        httpsPort,
        servicePort: servicePort!,
        serviceKey: config.service.primaryKey!,
        edgePorts,
        ca,
        events,
        stop: () => emulator.stop(),
    }
}

/** Resolves with the data of the next event of that name. */
export function nextEvent<K extends EmulatorEventName>(e: Emulator, name: K): Promise<EmulatorEvents[K]> {
    return new Promise((resolve) => e.once(name, resolve as any))
}
