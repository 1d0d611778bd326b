// Loads the DeviceScript WASM VM that @devicescript/cli embeds in its bundle, so devices run in-process.
// The CLI exports only its command line; the VM is an esbuild __commonJS module inside the bundle,
// so we cut it out by its markers. That depends on the bundle's layout: any change fails loudly here.
import * as fs from "fs"
import * as path from "path"
import { VM_CACHE_DIR } from "../paths"

/** The members of a VM instance the host uses (Emscripten module + the CLI's Exts helpers). */
export interface DevsVm {
    HEAPU8: Uint8Array
    _malloc(size: number): number
    _free(ptr: number): void
    _jd_em_tcpsock_on_event(type: number, ptr: number, len: number): void
    _jd_em_process(): number
    devsGcStress(enabled: boolean): void
    devsSetDeviceId(id: string): void
    devsStart(): void
    devsStop(): void
    devsDeploy(bytecode: Uint8Array): number
    handlePacket(frame: Uint8Array): void
    dmesg: (line: string) => void
    error: (...args: unknown[]) => void
    sendPacket: (frame: Uint8Array) => void
    panicHandler: (code: number) => void
    flashLoad: () => Uint8Array
    flashSave: (flash: Uint8Array) => void
    sockOpen: (hostPtr: number, port: number) => number
    sockWrite: (ptr: number, len: number) => number
    sockClose: () => number
}

/** Options Emscripten reads at instantiation: where the VM's own stdout/stderr go. */
export interface VmModuleArg {
    print?: (text: string) => void
    printErr?: (text: string) => void
}

export type VmFactory = (arg?: VmModuleArg) => Promise<DevsVm>

const MODULE_MARKER = '"runtime/devicescript-vm/built/devicescript-vm.js"(exports, module2) {'
const EXPORT_MARKER = "module2.exports = Module;"
const MODULE_END = "\n});\n"
const REQUIRED_MEMBERS = [
    "_malloc",
    "_free",
    "_jd_em_tcpsock_on_event",
    "_jd_em_process",
    "devsGcStress",
    "devsSetDeviceId",
    "devsStart",
    "devsStop",
    "devsDeploy",
    "handlePacket",
    "sockOpen",
    "sockWrite",
    "sockClose",
] as const

function layoutError(version: string, what: string): Error {
    return new Error(
        `@devicescript/cli ${version}: bundle layout changed, ${what}. ` +
            `sim/host/vm-loader.ts was written against @devicescript/cli 2.16.4; re-check the VM extraction.`
    )
}

/** Cuts the VM module's body out of the CLI bundle's source text. */
export function cutVmModule(bundleSource: string, version: string): string {
    const start = bundleSource.indexOf(MODULE_MARKER)
    const exportAt = start < 0 ? -1 : bundleSource.indexOf(EXPORT_MARKER, start)
    const end = exportAt < 0 ? -1 : bundleSource.indexOf(MODULE_END, exportAt)
    if (end < 0) throw layoutError(version, "the embedded devicescript-vm module was not found")
    // The module body ends with the closing brace of its wrapper function, which we drop.
    return bundleSource.slice(start + MODULE_MARKER.length, end).replace(/\n {2}}\s*$/, "")
}

/** Evaluates a VM module body (see cutVmModule) into a factory. */
export function evaluateVmModule(body: string, version: string): VmFactory {
    const mod: { exports: unknown } = { exports: {} }
    try {
        new Function("exports", "module2", "require", "__filename", "__dirname", body)(
            mod.exports,
            mod,
            require,
            path.join(__dirname, "devicescript-vm.js"),
            __dirname
        )
    } catch (e) {
        throw layoutError(version, `the devicescript-vm module failed to evaluate (${(e as Error).message})`)
    }
    const factory = mod.exports
    if (typeof factory !== "function") throw layoutError(version, "devicescript-vm no longer exports a factory")
    return async (arg) => {
        const vm = (await factory({ ...arg })) as Record<string, unknown>
        const missing = REQUIRED_MEMBERS.filter((m) => typeof vm[m] !== "function")
        if (missing.length) throw layoutError(version, `the VM instance lacks ${missing.join(", ")}`)
        return vm as unknown as DevsVm
    }
}

/** Cuts the VM module out of the CLI bundle's source text and evaluates it into a factory. */
export function extractVmFactory(bundleSource: string, version: string): VmFactory {
    return evaluateVmModule(cutVmModule(bundleSource, version), version)
}

/** Where the VM module cut from this bundle is kept: named by the CLI version and the bundle's size and time. */
export function vmCacheFile(bundle: string, version: string): string {
    const st = fs.statSync(bundle)
    return path.join(VM_CACHE_DIR, `devicescript-vm-${version}-${st.size}-${Math.floor(st.mtimeMs)}.js`)
}

/**
 * The VM module's body: cut from the 28 MB CLI bundle once (reading it costs about 140 ms, the most
 * of a device process's start), then read from build/vm/. A cache only: written through a temporary
 * file so a reader never sees half of it, and a checkout where it cannot be written runs without it.
 */
function vmModuleBody(version: string): { body: string; cached: boolean } {
    const file = vmCacheFile(cliBundle(), version)
    if (fs.existsSync(file)) return { body: fs.readFileSync(file, "utf8"), cached: true }
    const body = cutVmModule(fs.readFileSync(cliBundle(), "utf8"), version)
    try {
        fs.mkdirSync(VM_CACHE_DIR, { recursive: true })
        const tmp = `${file}.${process.pid}.tmp`
        fs.writeFileSync(tmp, body)
        fs.renameSync(tmp, file)
        // Cuts of bundles since replaced (another CLI install) are of no further use.
        for (const f of fs.readdirSync(VM_CACHE_DIR))
            if (f.endsWith(".js") && path.join(VM_CACHE_DIR, f) !== file) fs.rmSync(path.join(VM_CACHE_DIR, f), { force: true })
    } catch {
        // Not writable: the next process cuts the bundle again.
    }
    return { body, cached: false }
}

let cached: VmFactory | undefined

/** The VM factory of the installed CLI; each call of it creates an independent VM instance. */
export function loadVmFactory(): VmFactory {
    if (!cached) {
        const version = cliVersion()
        const { body, cached: fromCache } = vmModuleBody(version)
        try {
            cached = evaluateVmModule(body, version)
        } catch (e) {
            // A damaged cache file: the bundle is the truth.
            if (!fromCache) throw e
            cached = extractVmFactory(fs.readFileSync(cliBundle(), "utf8"), version)
        }
    }
    return cached
}

export function cliBundle(): string {
    return require.resolve("@devicescript/cli/built/devicescript-cli.cjs")
}

export function cliVersion(): string {
    return (require("@devicescript/cli/package.json") as { version: string }).version
}
