// Drives a running emulator from another terminal, `az iot hub` style:
//   npx ts-node sim/emulator/service-cli.ts <command> [options]
// Reads the endpoint, CA and service key from the emulator's config and secrets files.
import * as fs from "fs"
import { EMULATOR_CONFIG, EMULATOR_SECRETS } from "../paths"
import { loadConfig } from "./config"
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
  monitor-events [-d ID]            follows telemetry until Ctrl-C`

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
    const [group, verb] = args.words
    const id = () => {
        const d = args.options.get("-d") ?? args.options.get("--device-id")
        if (!d) throw new Error("-d DEVICE_ID is required")
        return d
    }
    const c = client(args)
    switch (`${group} ${verb ?? ""}`.trim()) {
        case "device list":
            return c.listDevices()
        case "device show":
            return c.getDevice(id())
        case "device disable":
        case "device enable":
            return c.setDeviceStatus(id(), verb === "disable" ? "disabled" : "enabled")
        case "device set-parent": {
            const parent = args.options.get("--parent")
            if (!parent) throw new Error("--parent EDGE_DEVICE_ID is required")
            return c.setParent(id(), parent)
        }
        case "edge uplink": {
            const up = args.options.get("--up")
            if (up !== "true" && up !== "false") throw new Error("--up true|false is required")
            return c.setEdgeUplink(id(), up === "true")
        }
        case "device delete":
            return c.deleteDevice(id()).then(() => ({ deleted: id() }))
        case "twin show":
            return c.getTwin(id())
        case "twin update": {
            const desired = args.options.get("--desired")
            if (!desired) throw new Error("--desired JSON is required")
            return c.updateDesired(id(), parseJson(desired, "--desired") as object)
        }
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
