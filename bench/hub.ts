// Hub figures: boot -> first acknowledged telemetry (fresh provisioning and stored assignment),
// emulator QoS 1 telemetry throughput and server CPU per message, server memory per connected device.
import { individual, startEmulator } from "../test/emulator/fixtures"
import { HubDevice, hubDevice, startHubEmulator } from "../test/emulator/hub-fixtures"
import { bootDevice } from "../test/e2e/harness"
import { startLoad } from "./load"
import { fmt, median, row } from "./stats"

const RUNS = 5
const CLIENTS = [1, 8, 32]
const MESSAGES = 4000
const IDLE_DEVICES = 400

async function firstTelemetry(): Promise<{ fresh: number[]; stored: number[] }> {
    const enrollments = [...Array(RUNS).keys()].map((i) => individual(`bench-hub-${i}`))
    const emu = await startEmulator(enrollments)
    const fresh: number[] = []
    const stored: number[] = []
    try {
        for (const e of enrollments) {
            let t0 = performance.now()
            const d = await bootDevice(emu, { REG_ID: e.registrationId, DEVICE_KEY: e.attestation.primaryKey, INTERVAL: 1 })
            await d.line(/^hub: telemetry #1 acknowledged/, 30000)
            fresh.push(performance.now() - t0)
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

async function throughput(clients: number): Promise<{ perSec: number; cpuUsPerMsg: number }> {
    const devices: HubDevice[] = [...Array(clients).keys()].map((i) => hubDevice(`load-${i}`))
    const hub = await startHubEmulator(devices)
    try {
        const perClient = Math.ceil(MESSAGES / clients)
        const cpu0 = process.cpuUsage()
        const r = await startLoad({ port: hub.mqttPort, ca: hub.ca, devices: devices.map((d) => ({ deviceId: d.deviceId, key: d.primaryKey })), messages: perClient }).result
        const cpu = process.cpuUsage(cpu0)
        return { perSec: (r.messages / r.ms) * 1000, cpuUsPerMsg: (cpu.user + cpu.system) / r.messages }
    } finally {
        await hub.stop()
    }
}

async function memoryNow(): Promise<{ js: number; rss: number }> {
    for (let i = 0; i < 3; i++) {
        global.gc?.()
        await new Promise((r) => setTimeout(r, 50))
    }
    const m = process.memoryUsage()
    return { js: m.heapUsed + m.external, rss: m.rss }
}

/** Server-side growth from a second batch of idle connections (the first batch warms the process up). */
async function memoryPerDevice(): Promise<{ js: number; rss: number }> {
    const devices: HubDevice[] = [...Array(IDLE_DEVICES * 2).keys()].map((i) => hubDevice(`idle-${i}`))
    const hub = await startHubEmulator(devices)
    const batch = (from: number) => ({
        port: hub.mqttPort,
        ca: hub.ca,
        devices: devices.slice(from, from + IDLE_DEVICES).map((d) => ({ deviceId: d.deviceId, key: d.primaryKey })),
        messages: 0,
    })
    try {
        const warm = startLoad(batch(0))
        await warm.result
        const before = await memoryNow()
        const load = startLoad(batch(IDLE_DEVICES))
        await load.result
        const after = await memoryNow()
        warm.child.stdin!.end()
        load.child.stdin!.end()
        return { js: (after.js - before.js) / IDLE_DEVICES, rss: (after.rss - before.rss) / IDLE_DEVICES }
    } finally {
        await hub.stop()
    }
}

export async function benchHub() {
    console.log("hub session (issue 3)")
    // First, while the process holds little garbage from the other runs.
    const mem = await memoryPerDevice()
    const t = await firstTelemetry()
    row(`firmware: VM boot -> first acknowledged telemetry, fresh DPS, median of ${RUNS}`, `${fmt(median(t.fresh))} ms`)
    row(`firmware: reboot -> first acknowledged telemetry, stored assignment`, `${fmt(median(t.stored))} ms`)
    for (const n of CLIENTS) {
        const r = await throughput(n)
        row(`emulator QoS 1 telemetry, ${n} client(s) (stop-and-wait)`, `${fmt(r.perSec)} msg/s, ${fmt(r.cpuUsPerMsg)} µs server CPU/msg`)
    }
    row(`emulator memory per connected device (${IDLE_DEVICES} more idle)`, `${fmt(mem.js / 1024)} KiB JS heap, ${fmt(mem.rss / 1024)} KiB RSS`)
}
