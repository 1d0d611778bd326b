// Compiles a DeviceScript entry file with the pinned CLI. The CLI always writes to one place
// (.devicescript/bin/bytecode.devs), so builds are serialized: in this process by a queue, across
// processes (tests and `npm start` side by side) by a lock directory.
import { spawn } from "child_process"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import { ROOT } from "../paths"

const CLI = path.join(ROOT, "node_modules", "@devicescript", "cli", "devicescript")
const CLI_OUTPUT = path.join(ROOT, ".devicescript", "bin", "bytecode.devs")
const LOCK_DIR = path.join(ROOT, ".devicescript", "build.lock")
/** Machine-wide: the fixed devtools ports of `devs bundle` are shared by every checkout. */
const BUNDLE_LOCK_DIR = path.join(os.tmpdir(), "devicescript-bundle.lock")
const LOCK_POLL_MS = 100
/** DeviceScript register models that test suites and the simulated sensor board compile in. */
const SENSOR_MODELS_DIR = path.join(ROOT, "sim", "sensor-models")

export interface BuildResult {
    outFile: string
    bytes: number
}

let queue: Promise<unknown> = Promise.resolve()

/** Builds `entry` into `outFile`, skipped when `outFile` is newer than every .ts under src/, the sensor models and the entry's directory. */
export function buildFirmware(entry: string, outFile: string, opts: { force?: boolean } = {}): Promise<BuildResult> {
    const run = queue.then(() => build(path.resolve(ROOT, entry), path.resolve(ROOT, outFile), !!opts.force))
    queue = run.catch(() => undefined)
    return run
}

async function build(entry: string, outFile: string, force: boolean): Promise<BuildResult> {
    if (force || !isNewerThanSources(outFile, [path.join(ROOT, "src"), SENSOR_MODELS_DIR, path.dirname(entry)])) {
        const release = await lockDir(LOCK_DIR)
        try {
            await runCli(["build", "--no-colors", path.relative(ROOT, entry)])
            fs.mkdirSync(path.dirname(outFile), { recursive: true })
            fs.copyFileSync(CLI_OUTPUT, outFile)
        } finally {
            release()
        }
    }
    return { outFile, bytes: fs.statSync(outFile).size }
}

function isNewerThanSources(file: string, dirs: string[]): boolean {
    if (!fs.existsSync(file)) return false
    const built = fs.statSync(file).mtimeMs
    return dirs.every((dir) => newestTsMtime(dir) < built)
}

function newestTsMtime(dir: string): number {
    let newest = 0
    if (!fs.existsSync(dir)) return newest
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        if (ent.name.startsWith(".") || ent.name === "node_modules") continue
        const p = path.join(dir, ent.name)
        if (ent.isDirectory()) newest = Math.max(newest, newestTsMtime(p))
        else if (ent.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs)
    }
    return newest
}

/**
 * Runs the pinned CLI under a machine-wide lock (`devs bundle` binds its devtools ports 8081-8083 on
 * localhost, so no two may run at once); `cwd` is the project directory the CLI reads.
 */
export async function runCliLocked(args: string[], cwd: string): Promise<void> {
    const release = await lockDir(BUNDLE_LOCK_DIR)
    try {
        await runCli(args, cwd)
    } finally {
        release()
    }
}

function runCli(args: string[], cwd = ROOT): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] })
        let output = ""
        child.stdout.on("data", (d) => (output += d))
        child.stderr.on("data", (d) => (output += d))
        child.on("error", reject)
        child.on("close", (code) => {
            if (code === 0) resolve()
            else reject(new Error(`devs ${args.join(" ")} failed (exit ${code}):\n${output.trim()}`))
        })
    })
}

/** mkdir is atomic; a lock whose owner process is gone is taken over (signal 0 only probes). */
async function lockDir(dir: string): Promise<() => void> {
    const owner = path.join(dir, "pid")
    fs.mkdirSync(path.dirname(dir), { recursive: true })
    for (;;) {
        try {
            fs.mkdirSync(dir)
            fs.writeFileSync(owner, String(process.pid))
            return () => fs.rmSync(dir, { recursive: true, force: true })
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
        }
        if (!lockOwnerAlive(dir, owner)) fs.rmSync(dir, { recursive: true, force: true })
        else await new Promise((r) => setTimeout(r, LOCK_POLL_MS))
    }
}

function lockOwnerAlive(dir: string, owner: string): boolean {
    let pid: number
    try {
        pid = Number(fs.readFileSync(owner, "utf8"))
    } catch {
        // Just created and the owner not written yet, unless its creator died in between.
        try {
            return Date.now() - fs.statSync(dir).mtimeMs < 5000
        } catch {
            return false
        }
    }
    try {
        process.kill(pid, 0)
        return true
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM"
    }
}
