// `npm run dashboard [-- --config FILE --secrets FILE]`: where the running emulator's dashboard is
// and what to sign in with, the service connection string, printed on request to this terminal (as
// `az iot hub connection-string show` does) and never logged by the emulator.
import * as path from "path"
import { parseArgs } from "util"
import { EMULATOR_CONFIG, EMULATOR_SECRETS } from "../../../paths"
import { loadConfig, SERVICE_POLICY } from "../../config"

const USAGE = "usage: dashboard-cli.ts [--config FILE] [--secrets FILE]"

function main() {
    const { values } = parseArgs({ options: { config: { type: "string" }, secrets: { type: "string" } }, strict: true })
    const config = loadConfig(values.config ?? EMULATOR_CONFIG, values.secrets ?? EMULATOR_SECRETS)
    const key = config.service.primaryKey
    if (!key) throw new Error("no service key in the secrets file: start the emulator once with --secrets (npm run emulator)")
    const host = config.bind === "::1" ? "[::1]" : "localhost"
    console.log(`dashboard: https://${host}:${config.ports.service}/dashboard/`)
    console.log(`sign in with: HostName=${config.hubs[0].hostName};SharedAccessKeyName=${SERVICE_POLICY};SharedAccessKey=${key}`)
    if (config.tls.ca && !config.tls.ca.includes("-----BEGIN"))
        console.log(`the browser must trust the emulator's CA: ${path.relative(process.cwd(), config.tls.ca)} (or accept its warning once)`)
}

try {
    main()
} catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`)
    process.exit(1)
}
