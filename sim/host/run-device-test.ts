// Runs a @devicescript/test program once, like `devs run --test --test-self-exit`: the suite ends with
// ds.restart() (exit code 0) when every test passed, and with an uncaught "test errors" (non-zero) otherwise.
import * as fs from "fs"
import { DeviceSettings } from "./device-settings"
import { SimulatedDevice } from "./device"

/** The VM reports an exception as "* Exception: <name>" then "*  message: <text>". */
const EXCEPTION_REPORT = /^\* (Exception: |\s+message: )/

export interface DeviceTestOptions {
    settings?: DeviceSettings
    /** PEM certificates the program's TLS trusts. */
    trustAnchors?: string[]
    /** The CLI's default: 5000 ms. */
    timeoutMs?: number
}

export interface DeviceTestResult {
    passed: boolean
    /** Console lines and, prefixed "! ", the VM's error and exception lines, in order; then how a failed run ended. */
    output: string[]
}

export async function runDeviceTest(bytecodeFile: string, opts: DeviceTestOptions = {}): Promise<DeviceTestResult> {
    const timeoutMs = opts.timeoutMs ?? 5000
    const device = new SimulatedDevice({
        bytecode: fs.readFileSync(bytecodeFile),
        settings: opts.settings ?? {},
        trustAnchors: opts.trustAnchors ?? [],
    })
    const output: string[] = []
    device.on("dmesg", (line) => {
        if (line.startsWith("> ")) output.push(line.slice(2))
        else if (line.startsWith("! ")) output.push(line)
        else if (EXCEPTION_REPORT.test(line)) output.push(`! ${line.slice(2).trim()}`)
    })
    let timer: NodeJS.Timeout | undefined
    const ended = new Promise<string>((resolve) => {
        device.on("exit", (code) => resolve(code === 0 ? "" : `exit code ${code}`))
        timer = setTimeout(() => resolve(`timeout: no result within ${timeoutMs} ms`), timeoutMs)
    })
    try {
        await device.boot()
        const failure = await ended
        if (failure) output.push(failure)
        return { passed: failure === "", output }
    } finally {
        clearTimeout(timer)
        await device.stop()
    }
}
