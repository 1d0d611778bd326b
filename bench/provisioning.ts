// Provisioning measurements shared by the X.509 figures: firmware runs in this process, wire bytes
// as the emulator counts them, flows per second (firmware against the SDK: boot.ts; load: scaling.ts).
import { EmulatorEvents } from "../sim/emulator"
import { provision } from "../test/emulator/fixtures"
import { RunningEmulator } from "../test/support/emulator"
import { BootedDevice, provisioningOutcome } from "../test/e2e/harness"

export const RUNS = 7
export const LOAD_MS = 3000

/** TCP bytes (TLS included) of the DPS connections each registration id made. */
export function wireBytesBy(emu: RunningEmulator): Map<string, number> {
    const m = new Map<string, number>()
    for (const e of emu.events) {
        if (e.name !== "connection.close") continue
        const d = e.data as EmulatorEvents["connection.close"]
        if (d.face === "dps" && d.clientId) m.set(d.clientId, (m.get(d.clientId) ?? 0) + d.wireBytesIn + d.wireBytesOut)
    }
    return m
}

/** Per run: VM boot -> assigned, and the DPS part alone ("dps: connecting" -> assigned). */
export async function firmwareRuns(boot: (i: number, onConsole: (line: string) => void) => Promise<BootedDevice>): Promise<{ total: number[]; dps: number[] }> {
    const total: number[] = []
    const dps: number[] = []
    for (let i = 0; i < RUNS; i++) {
        let dpsStart = 0
        const onConsole = (line: string) => {
            if (line.startsWith("dps: connecting")) dpsStart = performance.now()
        }
        const t0 = performance.now()
        const d = await boot(i, onConsole)
        const o = await provisioningOutcome(d, 30000)
        const t1 = performance.now()
        total.push(t1 - t0)
        dps.push(t1 - dpsStart)
        await d.stop()
        if (!o.hub) throw new Error(`firmware run ${i}: ${o.fatal}`)
    }
    return { total, dps }
}

/**
 * Whole provisioning flows (connect+subscribe+register+poll, TLS each) per second, `concurrency` clients at
 * once, each its own device (`flow(worker)`): DPS keeps a few operations per registration id, not one per client.
 */
export async function throughput(concurrency: number, flow: (worker: number) => ReturnType<typeof provision>): Promise<{ flows: number; perSec: number }> {
    const deadline = performance.now() + LOAD_MS
    let flows = 0
    const worker = async (w: number) => {
        while (performance.now() < deadline) {
            const answers = await flow(w)
            if (answers[answers.length - 1].body.status !== "assigned") throw new Error("load flow not assigned")
            flows++
        }
    }
    const t0 = performance.now()
    await Promise.all([...Array(concurrency).keys()].map(worker))
    return { flows, perSec: flows / ((performance.now() - t0) / 1000) }
}
