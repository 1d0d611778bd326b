// Runs the emulator standalone:
//   npx ts-node sim/emulator/cli.ts --config sim/emulator.config.json [--secrets .emulator/secrets.json]
//       [--state .emulator/state [--fresh]]
// With --secrets, enrollments without keys get generated ones saved there (0600). With --state, the
// state is kept in that directory across runs (--fresh forgets it first); without, every run starts fresh.
import * as path from "path"
import { parseArgs } from "util"
import { Emulator, EmulatorConfig, describeEvent, enrollmentId, generateMissingKeys, loadConfig } from "./index"

const USAGE = "usage: cli.ts --config <file> [--secrets <file>] [--state <dir> [--fresh]]"

/** Node's util.parseArgs, as every command line here: an unknown option or one without its value is refused with the usage. */
export function parseEmulatorArgs(argv: string[]): { config?: string; secrets?: string; state?: string; fresh: boolean; help: boolean } {
    try {
        const { values } = parseArgs({
            args: argv,
            strict: true,
            options: {
                config: { type: "string" },
                secrets: { type: "string" },
                state: { type: "string" },
                fresh: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
        })
        return { ...values, fresh: values.fresh === true, help: values.help === true }
    } catch (e) {
        throw new Error(`${(e as Error).message}\n${USAGE}`)
    }
}

function trustLine(config: EmulatorConfig): string {
    const ca = config.tls.ca
    if (!ca) return "clients must trust: the CA that issued the server certificate (tls.ca not set)"
    if (ca.includes("-----BEGIN")) return "clients must trust: the PEM in tls.ca of the config"
    const rel = path.relative(process.cwd(), ca)
    return `clients must trust: ${rel.startsWith("..") ? ca : rel}`
}

async function main() {
    const args = parseEmulatorArgs(process.argv.slice(2))
    if (args.help) return console.log(USAGE)
    const configFile = args.config
    if (!configFile) throw new Error(USAGE)
    const stateDir = args.state
    const fresh = args.fresh
    if (fresh && !stateDir) throw new Error("--fresh needs --state <dir>")
    const secretsFile = args.secrets
    let config = loadConfig(configFile, secretsFile)
    if (secretsFile) config = generateMissingKeys(config, secretsFile)
    const emulator = new Emulator(config, { stateDir, fresh })
    emulator.on("event", (name, data) => console.log(describeEvent(name, data)))
    const { mqttPort, httpsPort, servicePort, edgePorts } = await emulator.start()
    const host = config.bind.includes(":") ? `[${config.bind}]` : config.bind
    console.log(`emulator: DPS and IoT Hub (MQTT 3.1.1 over TLS) on mqtts://${host}:${mqttPort}`)
    console.log(`emulator: DPS over HTTPS (REST API; its Date header is the devices' TIME_HOST) on https://${host}:${httpsPort}`)
    if (servicePort !== undefined) {
        console.log(`emulator: service endpoint on https://${host}:${servicePort} (npx ts-node sim/emulator/service/service-cli.ts --help)`)
        console.log(`emulator: dashboard on https://${host}:${servicePort}/dashboard/ (npm run dashboard prints what to sign in with)`)
    } else console.log("emulator: service endpoint off (no service key: run with --secrets)")
    config.edges.forEach((e, i) => void console.log(`emulator: IoT Edge gateway ${e.deviceId} on mqtts://${host}:${edgePorts[i]} (host name ${e.hostName})`))
    console.log(`emulator: ${trustLine(config)}`)
    const kept = `${emulator.service.listDevices().length} devices, ${emulator.state.registrations().length} registrations`
    console.log(
        stateDir ? `emulator: state in ${stateDir}${fresh ? " (started fresh)" : ""}: ${kept}` : "emulator: state in a temporary directory (fresh every run)"
    )
    console.log(`emulator: ID scope ${config.dps.idScope}; hubs ${config.hubs.map((h) => h.hostName).join(", ")}`)
    // The enrollments DPS serves: the config's, with what the service API changed in earlier runs.
    const list = emulator.config.enrollments.map(
        (e) => `${enrollmentId(e)} (${e.kind}${e.attestation.type === "x509" ? ", x509" : ""}${e.enabled ? "" : ", disabled"})`
    )
    console.log(`emulator: enrollments ${list.join(", ")}${secretsFile ? `; keys in ${secretsFile}` : ""}`)
    if (config.certificates.length)
        console.log(`emulator: DPS CA certificates ${config.certificates.map((c) => `${c.name}${c.verified ? " (verified)" : " (unverified)"}`).join(", ")}`)
    if (config.devices.length) console.log(`emulator: devices ${config.devices.map((d) => `${d.deviceId} (${d.hub}, ${d.status})`).join(", ")}`)
    process.once("SIGINT", () => {
        void emulator.stop().then(() => {
            console.log("emulator: stopped")
            process.exit(0)
        })
    })
}

if (require.main === module)
    main().catch((e: Error) => {
        console.error(`emulator: ${e.message}`)
        process.exit(1)
    })
