// The emulator under N connected (and enrolled) devices, load from a separate process (bench/hub-load-client.ts),
// the emulator in this process recording no events: provisioning flows/s with distinct devices,
// p50/p99 latency of a provisioning flow and of a QoS 1 publish, server CPU per message in a
// window with no TLS handshakes (all connected and warmed up first), memory per idle and per
// active device (its session and the telemetry the hub keeps, after MESSAGES spread over the devices).
import * as fs from "fs"
import { Emulator } from "../sim/emulator"
import { individual } from "../test/emulator/fixtures"
import { randomKey, testConfig, testPki } from "../test/support/emulator"
import { LoadClient, startLoad } from "./load"
import { startMqttFloor } from "./mqtt-floor"
import { LoadResult } from "./hub-load-client"
import { fmt, goalRow, row } from "./stats"

/** Published per row, spread over its devices (at least one each). */
const MESSAGES = 10000
const FLOWS = 600
const WARMUP_FLOWS = 64
const FLOW_CONCURRENCY = 32

export interface ScaleFigures {
    devices: number
    flowsPerSec: number
    provisionP50: number
    provisionP99: number
    publishP50: number
    publishP99: number
    cpuUsPerMsg: number
    /** The load process's CPU per message: above the emulator's, the load sets the pace. */
    loadCpuUsPerMsg: number
    cpuUsPerFlow: number
    loadCpuUsPerFlow: number
    idleBytes: number
    activeBytes: number
}

function percentile(xs: number[], p: number): number {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

async function heapNow(): Promise<number> {
    for (let i = 0; i < 3; i++) {
        global.gc?.()
        await new Promise((r) => setTimeout(r, 50))
    }
    const m = process.memoryUsage()
    return m.heapUsed + m.external
}

/**
 * The message window both servers are measured in: one message per connected device to warm up,
 * then MESSAGES spread over the N devices, with this process's CPU over the second part.
 */
async function publishWindow(load: LoadClient, n: number): Promise<{ pub: LoadResult; cpuUs: number }> {
    await load.ask({ cmd: "publish", messages: 1 })
    const cpu0 = process.cpuUsage()
    const pub = await load.ask<LoadResult>({ cmd: "publish", messages: Math.max(1, Math.ceil(MESSAGES / n)) })
    const cpu = process.cpuUsage(cpu0)
    return { pub, cpuUs: cpu.user + cpu.system }
}

export async function scaleRow(n: number): Promise<ScaleFigures> {
    const files = await testPki()
    const devices = [...Array(n).keys()].map((i) => ({ deviceId: `scale-${i}`, primaryKey: randomKey(), secondaryKey: randomKey() }))
    const enrollments = [...Array(WARMUP_FLOWS + FLOWS).keys()].map((i) => individual(`scale-dps-${i}`, { faults: { pollsBeforeAssigned: 0 } }))
    // DPS holds an enrollment for each connected device too, as a fleet of N that provisioned would leave it.
    const fleet = devices.map((d) =>
        individual(d.deviceId, { attestation: { type: "symmetricKey" as const, primaryKey: d.primaryKey, secondaryKey: d.secondaryKey } })
    )
    // No service key: the management endpoint stays off, as in a device-only run.
    const emulator = new Emulator(await testConfig({ enrollments: [...fleet, ...enrollments], devices, service: {} }))
    const { mqttPort: port } = await emulator.start()
    const ca = fs.readFileSync(files.rootCertFile, "utf8")
    const load = startLoad()
    try {
        // The first half warms the process up; the second half's growth is what an idle device costs.
        const half = Math.floor(n / 2)
        const creds = devices.map((d) => ({ deviceId: d.deviceId, key: d.primaryKey }))
        await load.ask({ cmd: "connect", port, ca, devices: creds.slice(0, half) })
        const halfIdle = await heapNow()
        await load.ask({ cmd: "connect", port, ca, devices: creds.slice(half) })
        const idle = await heapNow()
        const { pub, cpuUs } = await publishWindow(load, n)
        const active = await heapNow()
        const flows = enrollments.map((e) => ({ registrationId: e.registrationId, key: e.attestation.primaryKey }))
        await load.ask({ cmd: "provision", port, ca, enrollments: flows.slice(0, WARMUP_FLOWS), concurrency: FLOW_CONCURRENCY })
        const provCpu0 = process.cpuUsage()
        const prov = await load.ask<LoadResult>({ cmd: "provision", port, ca, enrollments: flows.slice(WARMUP_FLOWS), concurrency: FLOW_CONCURRENCY })
        const provCpu = process.cpuUsage(provCpu0)
        return {
            devices: n,
            flowsPerSec: (prov.count / prov.ms) * 1000,
            provisionP50: percentile(prov.latencies, 50),
            provisionP99: percentile(prov.latencies, 99),
            publishP50: percentile(pub.latencies, 50),
            publishP99: percentile(pub.latencies, 99),
            cpuUsPerMsg: cpuUs / pub.count,
            loadCpuUsPerMsg: pub.cpuUs / pub.count,
            cpuUsPerFlow: (provCpu.user + provCpu.system) / prov.count,
            loadCpuUsPerFlow: prov.cpuUs / prov.count,
            idleBytes: (idle - halfIdle) / (n - half),
            activeBytes: (idle - halfIdle) / (n - half) + (active - idle) / n,
        }
    } finally {
        await load.end()
        await emulator.stop()
    }
}

/** CPU per QoS 1 message of the bare MQTT-over-TLS server (mqtt-floor.ts), N devices connected, in scaleRow's window. */
export async function floorCpuUsPerMsg(n: number): Promise<number> {
    const files = await testPki()
    const floor = await startMqttFloor(files.serverCertFile, files.serverKeyFile)
    const load = startLoad()
    try {
        const creds = [...Array(n).keys()].map((i) => ({ deviceId: `floor-${i}`, key: randomKey() }))
        await load.ask({ cmd: "connect", port: floor.port, ca: fs.readFileSync(files.rootCertFile, "utf8"), devices: creds })
        const { pub, cpuUs } = await publishWindow(load, n)
        return cpuUs / pub.count
    } finally {
        await load.end()
        await floor.close()
    }
}

export async function benchScaling(full: boolean) {
    const sizes = full ? [100, 1000, 2000, 5000, 10000] : [100, 1000, 2000, 5000]
    console.log(
        `emulator scaling (load from a separate process; N devices connected and enrolled; ${FLOWS} flows at ${FLOW_CONCURRENCY} at once after ${WARMUP_FLOWS} warm-up; ${MESSAGES} QoS 1 messages after one each)`
    )
    console.log(
        `  ${"devices".padStart(8)} ${"flows/s".padStart(8)} ${"prov p50/p99 ms".padStart(16)} ${"pub p50/p99 ms".padStart(16)} ${"CPU µs/msg".padStart(11)} ${"KiB idle/active per device".padStart(27)} ${"CPU µs/flow".padStart(12)} ${"load µs/msg, /flow".padStart(19)}`
    )
    const rows: ScaleFigures[] = []
    for (const n of sizes) {
        const r = await scaleRow(n)
        rows.push(r)
        console.log(
            `  ${String(n).padStart(8)} ${fmt(r.flowsPerSec).padStart(8)} ${`${fmt(r.provisionP50)} / ${fmt(r.provisionP99)}`.padStart(16)} ${`${fmt(r.publishP50)} / ${fmt(r.publishP99)}`.padStart(16)} ${fmt(r.cpuUsPerMsg).padStart(11)} ${`${fmt(r.idleBytes / 1024, 2)} / ${fmt(r.activeBytes / 1024, 2)}`.padStart(27)} ${fmt(r.cpuUsPerFlow, 0).padStart(12)} ${`${fmt(r.loadCpuUsPerMsg, 0)}, ${fmt(r.loadCpuUsPerFlow, 0)}`.padStart(19)}`
        )
    }
    const at2000 = rows.find((r) => r.devices === 2000)!
    goalRow("emulator CPU per QoS 1 message, 2,000 devices, µs", fmt(at2000.cpuUsPerMsg), "<= 25", at2000.cpuUsPerMsg <= 25)
    const floor = await floorCpuUsPerMsg(2000)
    row("  bare MQTT over TLS (mqtt-packet, CONNACK/PUBACK only), same load, µs", fmt(floor))
    row("  emulator / bare MQTT over TLS, CPU per message at 2,000", (at2000.cpuUsPerMsg / floor).toFixed(2))
    goalRow("emulator provisioning flows/s, 2,000 devices connected", fmt(at2000.flowsPerSec), ">= 400", at2000.flowsPerSec >= 400)
    // What the emulator could serve were the load not the limit: one core's worth of its CPU per flow.
    const bound = 1e6 / at2000.cpuUsPerFlow
    row("  emulator-bound flows/s at 2,000 (1 s of CPU / its CPU per flow)", `${fmt(bound)} (the load used ${fmt(at2000.loadCpuUsPerFlow, 0)} µs per flow)`)
    return rows
}

if (require.main === module)
    benchScaling(process.argv.includes("--full")).then(
        () => process.exit(0),
        (e: Error) => {
            console.error(`bench: ${e.message}`)
            process.exit(1)
        }
    )
