// Hub figures: boot -> first acknowledged telemetry in one host process, with a fresh provisioning and
// with a stored assignment (the emulator's throughput, CPU and memory are in scaling.ts).
import { individual } from "../test/emulator/fixtures"
import { startTestEmulator } from "../test/support/emulator"
import { bootDevice } from "../test/e2e/harness"
import { row, spread } from "./stats"

const RUNS = 5

async function firstTelemetry(): Promise<{ fresh: number[]; stored: number[] }> {
    const enrollments = [...Array(RUNS).keys()].map((i) => individual(`bench-hub-${i}`))
    const emu = await startTestEmulator({ enrollments: enrollments })
    const fresh: number[] = []
    const stored: number[] = []
    try {
        for (const e of enrollments) {
            let t0 = performance.now()
            const d = await bootDevice(emu, { REG_ID: e.registrationId, DEVICE_KEY: e.attestation.primaryKey, INTERVAL: 1 })
            await d.line(/^hub: telemetry #1 acknowledged/, 30000)
            fresh.push(performance.now() - t0)
            // Kept in the background after the assignment; a reboot before this line provisions again.
            await d.line(/^store: assignment kept/, 30000)
            t0 = performance.now()
            await d.device.reboot()
            await d.line(/^dps: using stored assignment/, 30000)
            await d.device.waitForConsole(/^hub: telemetry #1 acknowledged/, 30000)
            stored.push(performance.now() - t0)
            await d.stop()
        }
    } finally {
        await emu.stop()
    }
    return { fresh, stored }
}

export async function benchHub() {
    console.log(`hub session, firmware in this process (${RUNS} runs: min / median / max)`)
    const t = await firstTelemetry()
    row(`firmware: VM boot -> first acknowledged telemetry, fresh DPS, ms`, spread(t.fresh))
    row(`firmware: reboot -> first acknowledged telemetry, stored assignment, ms`, spread(t.stored))
}
