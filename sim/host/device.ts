// A simulated board: the firmware image running in its own DeviceScript VM, in this process.
// Boot = what a deploy does to a real board: settings to the Settings service, then the bytecode.
import { EventEmitter } from "events"
import { SETTINGS_CMD_SET, SETTINGS_SERVICE_CLASS, encodeSettingsSet } from "./device-settings"
import { FlashStore } from "./flash-store"
import { FirmwareImage } from "./image"
import { jdBuildCommandFrame, jdFindAnnouncedService } from "./jacdac-frame"
import { SocketActivity, TlsSocketBridge } from "./tls-socket-bridge"
import { DevsVm, loadVmFactory } from "./vm-loader"

export interface SimulatedDeviceOptions {
    /** Keep the flash (program, settings the firmware wrote) in this file across processes. */
    flashFile?: string
    /** 16 hex digits. */
    deviceId?: string
    /** Called after every VM step with the VM's WASM memory (the bench reads the GC heap there). */
    onVmStep?: (memory: Uint8Array) => void
}

/** Exit code reported when the VM itself failed (a host-side exception), not the program. */
export const EXIT_VM_FAILURE = -1

const DEFAULT_DEVICE_ID = "12abdd2289421234"
const ANNOUNCE_TIMEOUT_MS = 5000
const MAX_CONSOLE_LINES = 5000
const CONSOLE_TAIL = 15
const MAX_HOST_NAME = 256

type State = "stopped" | "booting" | "running"

/** Delivers a socket event to the VM the way its C side expects: the argument copied into its heap. */
function sendSocketEvent(vm: DevsVm, type: number, arg?: string | Uint8Array): void {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg
    if (!bytes || bytes.length === 0) {
        vm._jd_em_tcpsock_on_event(type, 0, 0)
        return
    }
    const ptr = vm._malloc(bytes.length)
    vm.HEAPU8.set(bytes, ptr)
    vm._jd_em_tcpsock_on_event(type, ptr, bytes.length)
    vm._free(ptr)
}

/** Stops a VM's loop from the next turn of the event loop: a VM step re-arms the loop's timer when it returns. */
function halt(vm: DevsVm): Promise<void> {
    return new Promise((resolve) =>
        setImmediate(() => {
            vm.devsStop()
            resolve()
        })
    )
}

function readCString(vm: DevsVm, ptr: number): string {
    const heap = vm.HEAPU8
    let end = ptr
    while (end < ptr + MAX_HOST_NAME && heap[end] !== 0) end++
    return Buffer.from(heap.subarray(ptr, end)).toString("utf8")
}

export interface SimulatedDevice {
    on(event: "console" | "dmesg", listener: (line: string) => void): this
    on(event: "exit", listener: (code: number) => void): this
    on(event: "socket", listener: (activity: SocketActivity) => void): this
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only types the events of EventEmitter's own methods
export class SimulatedDevice extends EventEmitter {
    readonly consoleLines: string[] = []
    private readonly settingsPayloads: Buffer[]
    private readonly deviceId: string
    private readonly flash: FlashStore
    private readonly onVmStep: ((memory: Uint8Array) => void) | undefined
    private readonly bridge: TlsSocketBridge
    private vm: DevsVm | undefined
    private state: State = "stopped"
    /** Index in consoleLines where the current run's output starts. */
    private runStart = 0

    constructor(
        private readonly image: FirmwareImage,
        opts: SimulatedDeviceOptions = {}
    ) {
        super()
        this.deviceId = (opts.deviceId ?? DEFAULT_DEVICE_ID).toLowerCase()
        if (!/^[0-9a-f]{16}$/.test(this.deviceId)) throw new Error(`deviceId must be 16 hex digits, got "${opts.deviceId}"`)
        this.settingsPayloads = Object.entries(image.settings).map(([k, v]) => encodeSettingsSet(k, v))
        this.flash = new FlashStore(opts.flashFile)
        this.onVmStep = opts.onVmStep
        this.bridge = new TlsSocketBridge(
            image,
            (type, arg) => this.vm && sendSocketEvent(this.vm, type, arg),
            (activity) => this.emit("socket", activity)
        )
    }

    /** TLS application data the firmware sent and received, over every boot. */
    get wire(): { readonly bytesOut: number; readonly bytesIn: number } {
        return this.bridge.wire
    }

    /** Deploys the image (settings, then bytecode) and starts it. */
    async boot(): Promise<void> {
        await this.start(true)
    }

    /** Power cycle: a fresh VM on the same flash; the settings stay as the firmware left them. */
    async reboot(): Promise<void> {
        await this.stop()
        await this.start(false)
    }

    /** A power cut: the VM stops where it is (no 'exit' event); its socket is dropped. */
    async stop(): Promise<void> {
        const vm = this.vm
        this.vm = undefined
        this.state = "stopped"
        this.bridge.shutdown()
        if (vm) await halt(vm)
    }

    /**
     * Resolves with the first console line of the current run (since the last boot or reboot) matching `re`;
     * rejects with the last console lines on timeout or when the program exits first.
     */
    waitForConsole(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
        return new Promise((resolve, reject) => {
            for (const line of this.consoleLines.slice(this.runStart)) {
                const m = line.match(re)
                if (m) return resolve(m)
            }
            const fail = (why: string) => {
                done()
                const tail = this.consoleLines
                    .slice(-CONSOLE_TAIL)
                    .map((l) => `  > ${l}`)
                    .join("\n")
                reject(new Error(`${why} before a console line matched ${re}; last console lines:\n${tail}`))
            }
            const onLine = (line: string) => {
                const m = line.match(re)
                if (m) {
                    done()
                    resolve(m)
                }
            }
            const onExit = (code: number) => fail(`device exited with code ${code}`)
            const timer = setTimeout(() => fail(`${timeoutMs} ms passed`), timeoutMs)
            const done = () => {
                clearTimeout(timer)
                this.off("console", onLine)
                this.off("exit", onExit)
            }
            if (this.state === "stopped") return fail("device is not running")
            this.on("console", onLine)
            this.on("exit", onExit)
        })
    }

    private async start(deploySettings: boolean): Promise<void> {
        if (this.state !== "stopped") throw new Error("device is already running")
        this.state = "booting"
        this.runStart = this.consoleLines.length
        const vm = await loadVmFactory()({ print: (t) => this.onDmesg(t), printErr: (t) => this.onDmesg(`! ${t}`) })
        const settingsIndex = new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("the VM did not announce its Settings service")), ANNOUNCE_TIMEOUT_MS)
            vm.sendPacket = (frame) => {
                const index = jdFindAnnouncedService(frame, SETTINGS_SERVICE_CLASS)
                if (index === undefined) return
                clearTimeout(timer)
                vm.sendPacket = () => {}
                resolve(index)
            }
        })
        vm.dmesg = (line) => this.onDmesg(line)
        vm.panicHandler = (code) => this.onExit(vm, code)
        vm.error = (...args) => {
            this.onDmesg(`! host: VM failure: ${args.map(String).join(" ")}`)
            this.onExit(vm, EXIT_VM_FAILURE)
        }
        vm.flashLoad = () => this.flash.load()
        vm.flashSave = (image) => this.flash.save(image)
        vm.sockOpen = (hostPtr, port) => this.bridge.open(readCString(vm, hostPtr), port)
        vm.sockWrite = (ptr, len) => this.bridge.write(vm.HEAPU8.slice(ptr, ptr + len))
        vm.sockClose = () => this.bridge.close()
        // Socket events go in between VM steps, one per step; after one, the VM steps again at once.
        const step = vm._jd_em_process.bind(vm)
        vm._jd_em_process = () => {
            const sleepUs = step()
            this.onVmStep?.(vm.HEAPU8)
            return this.vm === vm && this.bridge.deliverNext() ? 0 : sleepUs
        }
        this.vm = vm
        vm.devsGcStress(false)
        vm.devsSetDeviceId(this.deviceId)
        vm.devsStart()
        try {
            // Resolved from inside the VM's step; this continuation runs after that step returned.
            const index = await settingsIndex
            if (this.vm !== vm) throw new Error("device stopped while booting")
            if (deploySettings) {
                for (const payload of this.settingsPayloads) {
                    vm.handlePacket(jdBuildCommandFrame(this.deviceId, index, SETTINGS_CMD_SET, payload))
                }
            }
            // The program is kept in flash but does not autostart: deploy it on every start.
            const rc = vm.devsDeploy(this.image.bytecode)
            if (rc !== 0) throw new Error(`the VM refused the bytecode (deploy error ${rc})`)
            this.state = "running"
        } catch (e) {
            if (this.vm === vm) await this.stop()
            throw e
        }
    }

    private onDmesg(text: string): void {
        for (const line of text.split("\n")) {
            if (line === "") continue
            this.emit("dmesg", line)
            if (!line.startsWith("> ")) continue
            const out = line.slice(2)
            this.consoleLines.push(out)
            if (this.consoleLines.length > MAX_CONSOLE_LINES) {
                const drop = this.consoleLines.length - MAX_CONSOLE_LINES
                this.consoleLines.splice(0, drop)
                this.runStart = Math.max(0, this.runStart - drop)
            }
            this.emit("console", out)
        }
    }

    private onExit(vm: DevsVm, code: number): void {
        if (this.vm !== vm) return
        this.vm = undefined
        this.state = "stopped"
        this.bridge.shutdown()
        void halt(vm)
        this.emit("exit", code)
    }
}
