// Loads the DeviceScript WASM VM that @devicescript/cli embeds in its bundle, so devices run in-process.
// The CLI exports only its command line; the VM is an esbuild __commonJS module inside the bundle,
// so we cut it out by its markers. That depends on the bundle's layout: any change fails loudly here.
import * as fs from "fs"
import * as path from "path"

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

/** Cuts the VM module out of the CLI bundle's source text and evaluates it into a factory. */
export function extractVmFactory(bundleSource: string, version: string): VmFactory {
    const start = bundleSource.indexOf(MODULE_MARKER)
    const exportAt = start < 0 ? -1 : bundleSource.indexOf(EXPORT_MARKER, start)
    const end = exportAt < 0 ? -1 : bundleSource.indexOf(MODULE_END, exportAt)
    if (end < 0) throw layoutError(version, "the embedded devicescript-vm module was not found")
    // The module body ends with the closing brace of its wrapper function, which we drop.
    const body = bundleSource.slice(start + MODULE_MARKER.length, end).replace(/\n {2}}\s*$/, "")
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

let cached: VmFactory | undefined

/** The VM factory of the installed CLI; each call of it creates an independent VM instance. */
export function loadVmFactory(): VmFactory {
    if (!cached) {
        const bundle = require.resolve("@devicescript/cli/built/devicescript-cli.cjs")
        cached = extractVmFactory(fs.readFileSync(bundle, "utf8"), cliVersion())
    }
    return cached
}

export function cliVersion(): string {
    return (require("@devicescript/cli/package.json") as { version: string }).version
}
