// Drives a running emulator from another terminal, `az iot hub` / `az iot dps` style:
//   npx ts-node sim/emulator/service/service-cli.ts <command> [options]
// Reads the endpoint, CA and service key from the emulator's config and secrets files.
import * as fs from "fs"
import { parseArgs } from "util"
import { EMULATOR_CONFIG, EMULATOR_SECRETS } from "../../paths"
import { loadConfig } from "../config"
import { ServiceClient } from "./service-client"
import { readCertificate, runEnrollmentCommand } from "./enrollment-cli"

const USAGE = `usage: service-cli.ts <command> [options]   (flags as az iot hub / az iot dps spell them)
  device list
  device show -d ID
  device create -d ID [--pk KEY] [--sk KEY]      (keys generated when not given)
  device connection-string show -d ID            (a secret: the device's primary key)
  device disable -d ID | device enable -d ID | device delete -d ID
  device set-parent -d ID --parent EDGE_ID
  edge uplink -d EDGE_ID --up true|false   (down: the gateway stores telemetry)
  twin show -d ID
  twin update -d ID --desired '{"telemetryInterval":10}'
  c2d send -d ID --data TEXT [--props 'k=v;k2=v2'] [--content-type TYPE] [--content-encoding ENC]
  method invoke -d ID --mn NAME [--mp JSON] [--to SECONDS]
  monitor-events [-d ID] [--props]        follows telemetry until Ctrl-C; exits 1 if the emulator goes away
  dps certificate list
  dps certificate show --name NAME
  dps certificate create --name NAME --path CA_FILE [--verified true]   (PEM or DER)
  dps certificate generate-verification-code --name NAME
  dps certificate verify --name NAME --path VERIFICATION_CERT_FILE
  dps certificate delete --name NAME
  device update -d ID [--sta enabled|disabled] [--pk KEY] [--sk KEY] [-e ETAG]
  dps enrollment list | show --eid ID [--show-keys] | delete --eid ID [-e ETAG]
  dps enrollment create --eid ID --at symmetrickey|x509 [--pk KEY] [--sk KEY] [--cp CERT] [--scp CERT] [--device-id ID]
      [--ps enabled|disabled] [--ih 'HUB HUB2'] [--ap hashed|geolatency|static|custom] [--wh URL]
      [--rp reprovisionandmigratedata|reprovisionandresetdata|never] [--props '{"interval":10}']
  dps enrollment update --eid ID [the flags of create but --at] [-e ETAG]
  dps enrollment-group list | show --gid ID [--show-keys] | delete --gid ID [-e ETAG]
  dps enrollment-group create|update --gid ID [--pk KEY] [--sk KEY] [--cp CA_CERT | --cn CA_NAME] [the allocation flags]
options: -d/--device-id, -n/--hub-name, --mn/--method-name, --mp/--method-payload, --to/--timeout,
  --da/--data, --props/--properties, --config FILE, --secrets FILE, -h/--help`

/** Flags as az spells them; each short or alternate spelling maps to its long name. */
const OPTIONS = {
    "device-id": { type: "string", short: "d" },
    "hub-name": { type: "string", short: "n" },
    "method-name": { type: "string" },
    mn: { type: "string" },
    "method-payload": { type: "string" },
    mp: { type: "string" },
    timeout: { type: "string" },
    to: { type: "string" },
    data: { type: "string" },
    da: { type: "string" },
    props: { type: "string" },
    properties: { type: "string" },
    "content-type": { type: "string" },
    "content-encoding": { type: "string" },
    desired: { type: "string" },
    "primary-key": { type: "string" },
    pk: { type: "string" },
    "secondary-key": { type: "string" },
    sk: { type: "string" },
    parent: { type: "string" },
    up: { type: "string" },
    name: { type: "string" },
    path: { type: "string" },
    verified: { type: "string" },
    config: { type: "string" },
    secrets: { type: "string" },
    help: { type: "boolean", short: "h" },
    "enrollment-id": { type: "string" },
    eid: { type: "string" },
    "group-id": { type: "string" },
    gid: { type: "string" },
    "attestation-type": { type: "string" },
    at: { type: "string" },
    "provisioning-status": { type: "string" },
    ps: { type: "string" },
    "iot-hubs": { type: "string" },
    ih: { type: "string" },
    "allocation-policy": { type: "string" },
    ap: { type: "string" },
    "initial-twin-properties": { type: "string" },
    "reprovision-policy": { type: "string" },
    rp: { type: "string" },
    "webhook-url": { type: "string" },
    wh: { type: "string" },
    "certificate-path": { type: "string" },
    cp: { type: "string" },
    "secondary-certificate-path": { type: "string" },
    scp: { type: "string" },
    "root-ca-name": { type: "string" },
    "ca-name": { type: "string" },
    cn: { type: "string" },
    "show-keys": { type: "boolean" },
    keys: { type: "boolean" },
    etag: { type: "string", short: "e" },
    status: { type: "string" },
    sta: { type: "string" },
} as const
const ALIASES: Record<string, string> = {
    mn: "method-name",
    mp: "method-payload",
    to: "timeout",
    da: "data",
    properties: "props",
    pk: "primary-key",
    sk: "secondary-key",
    eid: "enrollment-id",
    gid: "group-id",
    at: "attestation-type",
    ps: "provisioning-status",
    ih: "iot-hubs",
    ap: "allocation-policy",
    rp: "reprovision-policy",
    wh: "webhook-url",
    cp: "certificate-path",
    scp: "secondary-certificate-path",
    "ca-name": "root-ca-name",
    cn: "root-ca-name",
    sta: "status",
}

export interface CliArgs {
    words: string[]
    options: Map<string, string>
    help: boolean
    /** --show-keys/--keys (az's switch for attestation keys). */
    showKeys: boolean
}

/**
 * Positional words and az-style options, parsed by Node's util.parseArgs: an unknown flag or a flag
 * without its value is an error with the usage, never silently ignored. monitor-events' `--props` is a switch.
 */
export function parseCliArgs(argv: string[]): CliArgs {
    const monitor = argv[0] === "monitor-events"
    const switches = monitor ? argv.map((a) => (a === "--props" || a === "--properties" ? "--props=all" : a)) : argv
    let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>
    try {
        parsed = parseArgs({ args: switches, options: OPTIONS, allowPositionals: true, strict: true })
    } catch (e) {
        throw new Error(`${(e as Error).message}\n${USAGE}`)
    }
    const options = new Map<string, string>()
    for (const [k, v] of Object.entries(parsed.values)) if (typeof v === "string") options.set(ALIASES[k] ?? k, v)
    const v = parsed.values
    return { words: parsed.positionals, options, help: v.help === true, showKeys: v["show-keys"] === true || v.keys === true }
}

function parseJson(text: string, what: string): unknown {
    try {
        return JSON.parse(text)
    } catch {
        throw new Error(`${what} is not JSON: ${text}`)
    }
}

/** `k=v;k2=v2` as az writes them (`&` also taken), values literal (the hub encodes them on delivery). */
function parseProps(text: string): Record<string, string> {
    const out: Record<string, string> = {}
    for (const pair of text.split(/[;&]/).filter(Boolean)) {
        const eq = pair.indexOf("=")
        if (eq <= 0) throw new Error(`--props: ${JSON.stringify(pair)} is not k=v`)
        out[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    return out
}

function client(args: CliArgs): ServiceClient {
    const config = loadConfig(args.options.get("config") ?? EMULATOR_CONFIG, args.options.get("secrets") ?? EMULATOR_SECRETS)
    const serviceKey = config.service.primaryKey
    if (!serviceKey) throw new Error("no service key in the secrets file: start the emulator once with --secrets (npm run emulator)")
    if (!config.tls.ca) throw new Error("the config names no tls.ca to trust")
    const ca = config.tls.ca.includes("-----BEGIN") ? config.tls.ca : fs.readFileSync(config.tls.ca, "utf8")
    const host = config.bind === "::1" ? "::1" : "localhost"
    // az names a hub by its name (-n myhub); the emulator's hubs are host names, so both are taken.
    const named = args.options.get("hub-name")
    const hub = named === undefined ? config.hubs[0].hostName : config.hubs.find((h) => h.hostName === named || h.hostName.split(".")[0] === named)?.hostName
    if (!hub) throw new Error(`no hub ${named} in the config (${config.hubs.map((h) => h.hostName).join(", ")})`)
    return new ServiceClient({ host, port: config.ports.service, ca, hub, serviceKey })
}

async function run(args: CliArgs): Promise<unknown> {
    const verb = args.words[1]
    const required = (option: string, what: string) => {
        const v = args.options.get(option)
        if (!v) throw new Error(`--${option} ${what} is required`)
        return v
    }
    const id = () => required("device-id", "DEVICE_ID (-d)")
    const c = client(args)
    const command = args.words.join(" ")
    const managed = await runEnrollmentCommand(command, args.options, args.showKeys, c)
    if (managed !== undefined) return managed
    switch (command) {
        case "device list":
            return c.listDevices()
        case "device show":
            return c.getDevice(id())
        case "device create":
            return c.createDevice(id(), { primaryKey: args.options.get("primary-key"), secondaryKey: args.options.get("secondary-key") })
        case "device connection-string show":
            return c.connectionString(id())
        case "device disable":
        case "device enable":
            return c.setDeviceStatus(id(), verb === "disable" ? "disabled" : "enabled")
        case "device set-parent":
            return c.setParent(id(), required("parent", "EDGE_DEVICE_ID"))
        case "edge uplink": {
            const up = args.options.get("up")
            if (up !== "true" && up !== "false") throw new Error("--up true|false is required")
            return c.setEdgeUplink(id(), up === "true")
        }
        case "device delete":
            return c.deleteDevice(id()).then(() => ({ deleted: id() }))
        case "twin show":
            return c.getTwin(id())
        case "twin update":
            return c.updateDesired(id(), parseJson(required("desired", "JSON"), "--desired") as object)
        case "c2d send": {
            const data = args.options.get("data")
            if (data === undefined) throw new Error("--data is required")
            const properties = parseProps(args.options.get("props") ?? "")
            return c.sendC2d(id(), data, {
                properties,
                contentType: args.options.get("content-type"),
                contentEncoding: args.options.get("content-encoding"),
            })
        }
        case "method invoke": {
            const name = required("method-name", "NAME (--mn)")
            const payload = parseJson(args.options.get("method-payload") ?? "{}", "--method-payload")
            const timeout = Number(args.options.get("timeout") ?? 30)
            if (!Number.isInteger(timeout) || timeout < 5 || timeout > 300) throw new Error("--timeout takes 5..300 seconds, as IoT Hub")
            return c.invokeMethod(id(), name, payload, timeout)
        }
        case "monitor-events": {
            const withProps = args.options.has("props")
            const m = await c.monitorEvents((e) => console.log(JSON.stringify(monitorEvent(e, withProps), null, 4)), args.options.get("device-id"))
            console.error("Starting event monitor, use ctrl-c to stop...")
            let stopped = false
            process.once("SIGINT", () => {
                stopped = true
                m.stop()
            })
            await m.ended
            // az exits non-zero when its connection drops; a silent 0 would look like a clean stop.
            if (!stopped) throw new Error("the emulator closed the event stream (stopped or restarted)")
            return undefined
        }
        case "dps certificate list":
            return c.listCaCertificates()
        case "dps certificate show":
            return c.getCaCertificate(required("name", "NAME"))
        case "dps certificate create": {
            const verified = args.options.get("verified") ?? "false"
            if (verified !== "true" && verified !== "false") throw new Error("--verified takes true or false")
            return c.uploadCaCertificate(required("name", "NAME"), readCertificate(required("path", "FILE")), { verified: verified === "true" })
        }
        case "dps certificate generate-verification-code": {
            const r = await c.generateVerificationCode(required("name", "NAME"))
            // The CA's name in `npm run certs` is usually the one it was uploaded under.
            console.error(
                `next: a certificate with CN = the code, signed by the CA's private key, e.g.\n` +
                    `  npm run certs -- verification ${r.verificationCode} --ca ${r.name}\n` +
                    `then: npm run service -- dps certificate verify --name ${r.name} --path certs/x509/${r.name}_verification_cert.pem`
            )
            return r
        }
        case "dps certificate verify":
            return c.verifyCaCertificate(required("name", "NAME"), readCertificate(required("path", "FILE")))
        case "dps certificate delete": {
            const name = required("name", "NAME")
            return c.deleteCaCertificate(name).then(() => ({ deleted: name }))
        }
    }
    throw new Error(USAGE)
}

/**
 * One telemetry message as `az iot hub monitor-events` prints it: {"event": {"origin", "module", "interface",
 * "component", "payload"}}, with "properties": {"system", "application"} when asked for (--props).
 */
export function monitorEvent(
    m: { deviceId: string; body: string; properties: Record<string, string>; systemProperties: Record<string, string>; enqueuedTimeUtc: string },
    withProps: boolean
) {
    let payload: unknown = m.body
    try {
        payload = JSON.parse(m.body)
    } catch {
        // not JSON: az prints the text as it is
    }
    const event: Record<string, unknown> = { origin: m.deviceId, module: "", interface: "", component: "", payload }
    if (withProps) event.properties = { system: { ...m.systemProperties, "iothub-enqueuedtime": m.enqueuedTimeUtc }, application: m.properties }
    return { event }
}

async function main() {
    const args = parseCliArgs(process.argv.slice(2))
    if (args.help || args.words.length === 0) return console.log(USAGE)
    const out = await run(args)
    if (out !== undefined) console.log(JSON.stringify(out, null, 2))
}

if (require.main === module)
    main().catch((e: Error) => {
        console.error(`service-cli: ${e.message}`)
        process.exit(1)
    })
