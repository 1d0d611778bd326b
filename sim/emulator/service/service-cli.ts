// Drives a running emulator from another terminal, `az iot hub` / `az iot dps` style:
//   npx ts-node sim/emulator/service/service-cli.ts <command> [options]
// Reads the endpoint, CA and service key from the emulator's config and secrets files.
import * as fs from "fs"
import { EMULATOR_CONFIG, EMULATOR_SECRETS } from "../../paths"
import { loadConfig } from "../config"
import { ServiceClient } from "./service-client"

const USAGE = `usage: service-cli.ts <command> [--config FILE] [--secrets FILE] [--hub HOST]
  device list
  device show -d ID
  device disable -d ID | device enable -d ID | device delete -d ID
  device set-parent -d ID --parent EDGE_ID
  edge uplink -d EDGE_ID --up true|false   (down: the gateway stores telemetry)
  twin show -d ID
  twin update -d ID --desired '{"interval":10}'
  c2d send -d ID --data TEXT [--props 'k=v&k2=v2'] [--content-type TYPE] [--content-encoding ENC]
  method invoke -d ID -n NAME [--payload JSON] [--timeout SECONDS]
  monitor-events [-d ID]            follows telemetry until Ctrl-C
  dps certificate list
  dps certificate show --name NAME
  dps certificate create --name NAME --path CA_FILE [--verified true]   (PEM or DER)
  dps certificate generate-verification-code --name NAME
  dps certificate verify --name NAME --path VERIFICATION_CERT_FILE
  dps certificate delete --name NAME`

export interface CliArgs {
    words: string[]
    options: Map<string, string>
}

/** Positional words and `--name value` / `-d value` options. */
export function parseArgs(argv: string[]): CliArgs {
    const words: string[] = []
    const options = new Map<string, string>()
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]
        if (a.startsWith("-")) {
            const value = argv[i + 1]
            if (value === undefined || (value.startsWith("-") && value.length > 1 && isNaN(Number(value))))
                throw new Error(`${a} needs a value`)
            options.set(a, value)
            i++
        } else words.push(a)
    }
    return { words, options }
}

function parseJson(text: string, what: string): unknown {
    try {
        return JSON.parse(text)
    } catch {
        throw new Error(`${what} is not JSON: ${text}`)
    }
}

/** `k=v&k2=v2`, values taken literally (the hub encodes them on delivery). */
function parseProps(text: string): Record<string, string> {
    const out: Record<string, string> = {}
    for (const pair of text.split("&").filter(Boolean)) {
        const eq = pair.indexOf("=")
        if (eq <= 0) throw new Error(`--props: ${JSON.stringify(pair)} is not k=v`)
        out[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    return out
}

/** A certificate file as the service endpoint takes it: PEM text, or DER as base64. */
function readCertificate(file: string): string {
    const bytes = fs.readFileSync(file)
    const text = bytes.toString("utf8")
    return text.includes("-----BEGIN") ? text : bytes.toString("base64")
}

function client(args: CliArgs): ServiceClient {
    const config = loadConfig(args.options.get("--config") ?? EMULATOR_CONFIG, args.options.get("--secrets") ?? EMULATOR_SECRETS)
    const serviceKey = config.service.primaryKey
    if (!serviceKey) throw new Error("no service key in the secrets file: start the emulator once with --secrets (npm run emulator)")
    if (!config.tls.ca) throw new Error("the config names no tls.ca to trust")
    const ca = config.tls.ca.includes("-----BEGIN") ? config.tls.ca : fs.readFileSync(config.tls.ca, "utf8")
    const host = config.bind === "::1" ? "::1" : "localhost"
    const hub = args.options.get("--hub") ?? config.hubs[0].hostName
    return new ServiceClient({ host, port: config.ports.service, ca, hub, serviceKey })
}

async function run(args: CliArgs): Promise<unknown> {
    const verb = args.words[1]
    const required = (option: string, what: string) => {
        const v = args.options.get(option)
        if (!v) throw new Error(`${option} ${what} is required`)
        return v
    }
    const id = () => {
        const d = args.options.get("-d") ?? args.options.get("--device-id")
        if (!d) throw new Error("-d DEVICE_ID is required")
        return d
    }
    const c = client(args)
    switch (args.words.join(" ")) {
        case "device list":
            return c.listDevices()
        case "device show":
            return c.getDevice(id())
        case "device disable":
        case "device enable":
            return c.setDeviceStatus(id(), verb === "disable" ? "disabled" : "enabled")
        case "device set-parent":
            return c.setParent(id(), required("--parent", "EDGE_DEVICE_ID"))
        case "edge uplink": {
            const up = args.options.get("--up")
            if (up !== "true" && up !== "false") throw new Error("--up true|false is required")
            return c.setEdgeUplink(id(), up === "true")
        }
        case "device delete":
            return c.deleteDevice(id()).then(() => ({ deleted: id() }))
        case "twin show":
            return c.getTwin(id())
        case "twin update":
            return c.updateDesired(id(), parseJson(required("--desired", "JSON"), "--desired") as object)
        case "c2d send": {
            const data = args.options.get("--data")
            if (data === undefined) throw new Error("--data is required")
            const properties = parseProps(args.options.get("--props") ?? "")
            return c.sendC2d(id(), data, {
                properties,
                contentType: args.options.get("--content-type"),
                contentEncoding: args.options.get("--content-encoding"),
            })
        }
        case "method invoke": {
            const name = args.options.get("-n") ?? args.options.get("--method-name")
            if (!name) throw new Error("-n METHOD_NAME is required")
            const payload = parseJson(args.options.get("--payload") ?? "null", "--payload")
            return c.invokeMethod(id(), name, payload, Number(args.options.get("--timeout") ?? 30))
        }
        case "monitor-events": {
            const m = await c.monitorEvents((e) => console.log(JSON.stringify(e)), args.options.get("-d"))
            console.error("monitor-events: following telemetry, Ctrl-C to stop")
            process.once("SIGINT", () => m.stop())
            await m.ended
            return undefined
        }
        case "dps certificate list":
            return c.listCaCertificates()
        case "dps certificate show":
            return c.getCaCertificate(required("--name", "NAME"))
        case "dps certificate create": {
            const verified = args.options.get("--verified") ?? "false"
            if (verified !== "true" && verified !== "false") throw new Error("--verified takes true or false")
            return c.uploadCaCertificate(required("--name", "NAME"), readCertificate(required("--path", "FILE")), { verified: verified === "true" })
        }
        case "dps certificate generate-verification-code": {
            const r = await c.generateVerificationCode(required("--name", "NAME"))
            // The CA's name in `npm run certs` is usually the one it was uploaded under.
            console.error(
                `next: a certificate with CN = the code, signed by the CA's private key, e.g.\n` +
                    `  npm run certs -- verification ${r.verificationCode} --ca ${r.name}\n` +
                    `then: npm run service -- dps certificate verify --name ${r.name} --path certs/x509/${r.name}_verification_cert.pem`
            )
            return r
        }
        case "dps certificate verify":
            return c.verifyCaCertificate(required("--name", "NAME"), readCertificate(required("--path", "FILE")))
        case "dps certificate delete": {
            const name = required("--name", "NAME")
            return c.deleteCaCertificate(name).then(() => ({ deleted: name }))
        }
    }
    throw new Error(USAGE)
}

async function main() {
    const argv = process.argv.slice(2)
    if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) return console.log(USAGE)
    const out = await run(parseArgs(argv))
    if (out !== undefined) console.log(JSON.stringify(out, null, 2))
}

if (require.main === module)
    main().catch((e: Error) => {
        console.error(`service-cli: ${e.message}`)
        process.exit(1)
    })
