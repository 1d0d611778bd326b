// Provisioning figures: bytecode size; boot -> assigned for the firmware in the VM and for
// the official Node SDK against the same emulator; bytes on the wire; emulator throughput.
import * as fs from "fs"
import { EmulatorEvents } from "../sim/emulator"
import { FIRMWARE_IMAGE } from "../sim/paths"
import { ID_SCOPE, RunningEmulator, individual, provision, startEmulator, testPki } from "../test/emulator/fixtures"
import { BootedDevice, bootDevice, firmwareBytecode, provisioningOutcome } from "../test/e2e/harness"
import { runSdkJob } from "../test/conformance/sdk-provision"
import { fmt, median, row } from "./stats"

export const RUNS = 7
export const LOAD_MS = 3000
const CONCURRENCY = [1, 8, 32]

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

async function sdkRuns(emu: RunningEmulator, keys: Map<string, string>): Promise<number[]> {
    const devices = [...Array(RUNS).keys()].map((i) => ({
        provisioningHost: `localhost:${emu.mqttPort}`,
        registrationId: `bench-sdk-${i}`,
        key: keys.get(`bench-sdk-${i}`)!,
    }))
    const outcomes = await runSdkJob({ idScope: ID_SCOPE, devices }, (await testPki()).rootCertFile)
    return outcomes.map((o) => {
        if (!o.ok) throw new Error(`SDK ${o.registrationId}: ${o.message}`)
        return o.elapsedMs
    })
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

export async function benchProvisioning() {
    console.log("provisioning (issue 2)")
    await firmwareBytecode()
    row("firmware bytecode size", `${fs.statSync(FIRMWARE_IMAGE).size} bytes`)
    const enrollments = [...Array(RUNS).keys()].flatMap((i) => [individual(`bench-fw-${i}`), individual(`bench-sdk-${i}`)])
    const keys = new Map(enrollments.map((e) => [e.registrationId, e.attestation.primaryKey]))
    const emu = await startEmulator(enrollments)
    try {
        const fw = await firmwareRuns((i, onConsole) => bootDevice(emu, { REG_ID: `bench-fw-${i}`, DEVICE_KEY: keys.get(`bench-fw-${i}`)! }, { onConsole }))
        const sdk = await sdkRuns(emu, keys)
        row(`firmware: VM boot -> assigned, median of ${RUNS} (retry-after 0)`, `${fmt(median(fw.total))} ms`)
        row("firmware: of which DPS (connect -> assigned)", `${fmt(median(fw.dps))} ms`)
        row(`official Node SDK: register() -> assigned, median of ${RUNS}`, `${fmt(median(sdk))} ms`)
        row("ratio firmware / SDK, boot -> assigned", `${fmt(median(fw.total) / median(sdk), 2)}x`)
        row("ratio firmware / SDK, DPS part", `${fmt(median(fw.dps) / median(sdk), 2)}x`)
        const wire = wireBytesBy(emu)
        const fwBytes = median([...Array(RUNS).keys()].map((i) => wire.get(`bench-fw-${i}`) ?? 0))
        const sdkBytes = median([...Array(RUNS).keys()].map((i) => wire.get(`bench-sdk-${i}`) ?? 0))
        row("bytes on the wire per provisioning, firmware (TCP, TLS incl.)", `${fwBytes}`)
        row("bytes on the wire per provisioning, Node SDK (TCP, TLS incl.)", `${sdkBytes}`)
    } finally {
        await emu.stop()
    }
    for (const n of CONCURRENCY) {
        const enrollments = [...Array(n).keys()].map((w) => individual(`load-${n}-${w}`, { faults: { pollsBeforeAssigned: 0 } }))
        const load = await startEmulator(enrollments)
        const o = enrollments.map((e) => ({ registrationId: e.registrationId, key: e.attestation.primaryKey }))
        const t = await throughput(n, (w) => provision(load.mqttPort, load.ca, o[w])).finally(() => load.stop())
        row(`emulator provisioning flows/s, ${n} concurrent client(s), ${LOAD_MS / 1000} s`, `${fmt(t.perSec)} (${t.flows} flows)`)
    }
}
