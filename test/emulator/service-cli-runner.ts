// Runs sim/emulator/service/service-cli.ts as a child process against a test emulator, through config
// and secrets files written the way `npm run emulator` leaves them.
import { ChildProcess, execFile, spawn } from "child_process"
import * as fs from "fs"
import * as path from "path"
import { ROOT } from "../../sim/paths"
import { randomKey, tempDir, testPki } from "../support/emulator"

export type ServiceCli = (...args: string[]) => Promise<{ stdout: string; stderr: string }>

interface ServiceEndpoint {
    servicePort: number
    serviceKey: string
}

/** Config and secrets files for `emu` as `npm run emulator` leaves them, for the command-line tools to read. */
export async function cliFiles(emu: ServiceEndpoint, hub: string): Promise<{ config: string; secrets: string }> {
    const pki = await testPki()
    const dir = tempDir("service-cli")
    const config = path.join(dir, "config.json")
    const secrets = path.join(dir, "secrets.json")
    fs.writeFileSync(
        config,
        JSON.stringify({
            ports: { service: emu.servicePort },
            tls: { cert: pki.serverCertFile, key: pki.serverKeyFile, ca: pki.rootCertFile },
            dps: { idScope: "0ne00000A0A" },
            hubs: [{ hostName: hub }],
        })
    )
    fs.writeFileSync(secrets, JSON.stringify({ $iothubowner: { primaryKey: emu.serviceKey, secondaryKey: randomKey() } }), { mode: 0o600 })
    return { config, secrets }
}

/** The node arguments that run the CLI with `args` against `emu`. */
async function cliArgv(emu: ServiceEndpoint, hub: string): Promise<(args: string[]) => string[]> {
    const { config, secrets } = await cliFiles(emu, hub)
    return (args) => ["-r", "ts-node/register/transpile-only", "sim/emulator/service/service-cli.ts", ...args, "--config", config, "--secrets", secrets]
}

/** A runner that resolves with the command's output, or rejects with its stderr when it exits non-zero. */
export async function serviceCliFor(emu: ServiceEndpoint, hub = "localhost"): Promise<ServiceCli> {
    const argv = await cliArgv(emu, hub)
    return (...args) =>
        new Promise((resolve, reject) =>
            execFile(process.execPath, argv(args), { cwd: ROOT }, (err, stdout, stderr) =>
                err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr })
            )
        )
}

/** The CLI as a running process (monitor-events), its output streamed. */
export async function serviceCliProcess(emu: ServiceEndpoint, ...args: string[]): Promise<ChildProcess> {
    const argv = await cliArgv(emu, "localhost")
    return spawn(process.execPath, argv(args), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
}
