// The firmware's VM heap in a real run (boot -> provisioned -> hub session -> TELEMETRY acknowledged
// messages), read from the VM's WASM memory after every VM step (sim/host/vm-heap.ts): the
// high-water with the normal GC of the 64 KiB heap the simulator VM is built with, the most a
// collection kept, and the smallest heap the same run still completes in (bisected).
import { SimulatedDevice } from "../sim/host/device"
import { GcHeap, findGcHeap, heapUse, limitHeap } from "../sim/host/vm-heap"
import { individual } from "../test/emulator/fixtures"
import { ID_SCOPE, RunningEmulator, startTestEmulator } from "../test/support/emulator"
import { firmwareBytecode } from "../test/e2e/harness"
import { fmt, goalRow, row } from "./stats"

const TELEMETRY = 3
const RUN_TIMEOUT_MS = 15000
const LOW_BYTES = 4 * 1024
const STEP_BYTES = 512
const GOAL_BYTES = 24 * 1024

interface HeapRun {
    ok: boolean
    heapBytes: number
    /** Highest sum of blocks in use (live + garbage not yet collected), after any VM step. */
    highWater: number
    /** Highest offset in use: the heap a first-fit allocator needed. */
    top: number
    /** Most bytes a collection kept (in use at the step's end less what was allocated after that GC). */
    liveAfterGc: number
    /** In use when the heap was found (allocated before a limit could apply), and the highest offset then. */
    atStart: number
    topAtStart: number
}

async function heapRun(emu: RunningEmulator, bytecode: Buffer, e: ReturnType<typeof individual>, limit?: number): Promise<HeapRun> {
    const r: HeapRun = { ok: false, heapBytes: 0, highWater: 0, top: 0, liveAfterGc: 0, atStart: -1, topAtStart: -1 }
    let heap: GcHeap | undefined
    let lastSinceGc = 0
    let failure: Error | undefined
    let exited = false
    const device = new SimulatedDevice(
        {
            bytecode,
            settings: {
                ID_SCOPE,
                REG_ID: e.registrationId,
                DEVICE_KEY: e.attestation.primaryKey,
                DPS_HOST: `localhost:${emu.mqttPort}`,
                TIME_HOST: `localhost:${emu.httpsPort}`,
                INTERVAL: 1,
            },
            trustAnchors: [emu.ca],
        },
        {
            onVmStep: (mem) => {
                // A panic (out of memory in a limited heap) ends the run inside the step; its heap is being torn down.
                if (failure || exited) return
                try {
                    if (!heap) {
                        heap = findGcHeap(mem)
                        if (!heap) return
                        const first = heapUse(mem, heap)
                        r.atStart = first.usedBytes
                        r.topAtStart = first.topBytes
                        if (limit !== undefined && !limitHeap(mem, heap, limit)) throw new Error(`cannot limit the heap to ${limit} bytes`)
                    }
                    const u = heapUse(mem, heap)
                    r.heapBytes = u.heapBytes
                    r.highWater = Math.max(r.highWater, u.usedBytes)
                    r.top = Math.max(r.top, u.topBytes)
                    if (u.sinceGcBytes < lastSinceGc) r.liveAfterGc = Math.max(r.liveAfterGc, u.usedBytes - u.sinceGcBytes)
                    lastSinceGc = u.sinceGcBytes
                } catch (e) {
                    failure = e as Error
                }
            },
        }
    )
    device.on("exit", () => (exited = true))
    await device.boot()
    try {
        await device.waitForConsole(new RegExp(`^hub: telemetry #${TELEMETRY} acknowledged`), RUN_TIMEOUT_MS)
        if (failure) throw failure
        r.ok = true
    } catch (e) {
        if (failure || limit === undefined) throw failure ?? e
    } finally {
        await device.stop()
    }
    return r
}

export async function benchVmHeap() {
    console.log(`VM heap, firmware run boot -> provisioned -> ${TELEMETRY} acknowledged telemetry (read from WASM memory after every VM step)`)
    const bytecode = await firmwareBytecode()
    const enrollments = [...Array(16).keys()].map((i) => individual(`heap-${i}`))
    const emu = await startTestEmulator({ enrollments })
    let n = 0
    try {
        const full = await heapRun(emu, bytecode, enrollments[n++])
        row("heap the simulator VM is built with (JD_GC_KB), bytes", String(full.heapBytes))
        goalRow("VM heap high-water with the normal GC, bytes (live + garbage)", String(full.highWater), `<= ${GOAL_BYTES}`, full.highWater <= GOAL_BYTES)
        row("highest heap offset in use (first-fit footprint), bytes", String(full.top))
        row("most a collection kept (live set after GC), bytes", String(full.liveAfterGc))
        row("in use at the VM's first step with a heap (before a limit applies)", String(full.atStart))
        // Bisect the smallest heap (GC threshold scaled with it) the whole run completes in. A limit
        // applies once the VM has a heap, so heaps ending below what its first step used are not tried.
        const floor = Math.ceil((full.topAtStart + 16) / STEP_BYTES) * STEP_BYTES
        let lo = Math.max(LOW_BYTES, floor - STEP_BYTES)
        let hi = full.heapBytes
        while (hi - lo > STEP_BYTES) {
            const mid = Math.round((lo + hi) / 2 / STEP_BYTES) * STEP_BYTES
            const r = await heapRun(emu, bytecode, enrollments[n++], mid)
            if (r.ok) hi = mid
            else lo = mid
        }
        const atFloor = hi === floor ? ` (the smallest heap testable: the first step's ${full.topAtStart} bytes)` : ""
        row(`smallest working heap (bisected, ${STEP_BYTES} B steps; ${n - 1} runs), bytes`, `${hi} (${fmt(hi / 1024)} KiB)${atFloor}`)
    } finally {
        await emu.stop()
    }
}

if (require.main === module)
    benchVmHeap().then(
        () => process.exit(0),
        (e: Error) => {
            console.error(`bench: ${e.message}`)
            process.exit(1)
        }
    )
