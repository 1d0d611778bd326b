// Emulator state figures (issue 13): what durability costs per message (QoS 1 telemetry latency and
// throughput, commits per message), the store's size per device, the time to reopen a state of
// 10,000 devices, and server memory per idle and per active device with 2,000 connected.
// `npm run bench:state` (also part of `npm run bench`). Prints figures, asserts nothing.
import { execFileSync } from "child_process"
import * as path from "path"
import { Emulator, validateConfig } from "../sim/emulator"
import { twinApplyPatch } from "../sim/emulator/state/twin"
import { tempDir, testPki, ID_SCOPE } from "../test/emulator/fixtures"
import { HubDevice, hubDevice, startHubEmulator } from "../test/emulator/hub-fixtures"
import { LoadJob } from "./hub-load-client"
import { startLoad } from "./load"
import { fmt, row } from "./stats"

const REOPEN_DEVICES = 10_000
const MEMORY_DEVICES = 2_000
const ACTIVE_MESSAGES = 20

function dirBytes(dir: string): number {
    return Number(execFileSync("du", ["-sb", dir]).toString().split("\t")[0])
}

async function memoryNow(): Promise<number> {
    for (let i = 0; i < 3; i++) {
        global.gc?.()
        await new Promise((r) => setTimeout(r, 50))
    }
    const m = process.memoryUsage()
    return m.heapUsed + m.external
}

/** Stop-and-wait QoS 1 telemetry through the real store: per-message latency with one client, throughput with 32. */
async function durability(): Promise<void> {
    for (const clients of [1, 32]) {
        const devices: HubDevice[] = [...Array(clients).keys()].map((i) => hubDevice(`dur-${i}`))
        const hub = await startHubEmulator(devices)
        try {
            const commits0 = hub.emulator.storeStats()!.commits
            const job: LoadJob = { port: hub.mqttPort, ca: hub.ca, devices: devices.map((d) => ({ deviceId: d.deviceId, key: d.primaryKey })), messages: Math.ceil(4000 / clients) }
            const r = await startLoad(job).result
            const commits = hub.emulator.storeStats()!.commits - commits0
            row(
                `QoS 1 telemetry through the store, ${clients} client(s), stop-and-wait`,
                `${fmt(r.ms / (r.messages / clients), 2)} ms/msg per client, ${fmt((r.messages / r.ms) * 1000)} msg/s, ${fmt(r.messages / commits, 1)} msg per fsync'd commit`
            )
        } finally {
            await hub.stop()
        }
    }
}

/** A state of `n` devices made as DPS would (identity, registration, a reported twin), written and closed. */
async function writeState(dir: string, n: number): Promise<void> {
    const pki = await testPki()
    const config = validateConfig({
        ports: { mqtt: 0, https: 0 },
        tls: { cert: pki.serverCertFile, key: pki.serverKeyFile },
        dps: { idScope: ID_SCOPE },
        hubs: [{ hostName: "localhost" }],
    })
    const e = new Emulator(config, { stateDir: dir })
    await e.start()
    const now = new Date()
    for (let i = 0; i < n; i++) {
        const id = `dev-${String(i).padStart(5, "0")}`
        const d = hubDevice(id)
        const rec = e.state.hub.assignDevice(id, "localhost", { type: "sas", keys: { primaryKey: d.primaryKey, secondaryKey: d.secondaryKey } }, now, "enabled", {
            registrationId: id,
            enrollmentId: "fleet",
        })
        const r = twinApplyPatch(rec.twin, "reported", { firmwareVersion: "0.2.0", telemetryInterval: { value: 10, ac: 200, av: 2, ad: "applied" } })
        if (r.ok) rec.twin = r.twin
        e.state.hub.changed(rec)
        const stamp = now.toISOString()
        e.state.putRegistration({
            registrationId: id,
            enrollmentId: "fleet",
            enrollmentGroupId: "fleet",
            attestationType: "symmetricKey",
            status: "assigned",
            deviceId: id,
            assignedHub: "localhost",
            payload: { modelId: "dtmi:com:example:Thermostat;1" },
            createdDateTimeUtc: stamp,
            lastUpdatedDateTimeUtc: stamp,
            etag: "etag",
        })
        if (i % 1000 === 999) await e.committed()
    }
    await e.stop()
}

async function sizeAndReopen(): Promise<void> {
    const dir = path.join(tempDir("bench-state"), "state")
    await writeState(dir, REOPEN_DEVICES)
    const pki = await testPki()
    const config = validateConfig({ ports: { mqtt: 0, https: 0 }, tls: { cert: pki.serverCertFile, key: pki.serverKeyFile }, dps: { idScope: ID_SCOPE }, hubs: [{ hostName: "localhost" }] })
    const times: number[] = []
    for (let i = 0; i < 3; i++) {
        const e = new Emulator(config, { stateDir: dir })
        const t0 = performance.now()
        await e.start()
        times.push(performance.now() - t0)
        if (e.service.listDevices().length !== REOPEN_DEVICES) throw new Error("reopened the wrong state")
        await e.stop()
    }
    row(`state on disk per device (identity, registration, reported twin)`, `${fmt(dirBytes(dir) / REOPEN_DEVICES, 0)} B`)
    row(`reopen a state of ${REOPEN_DEVICES} devices (start(), listeners included)`, `${fmt(Math.min(...times), 0)} ms (best of 3)`)
}

/** Server-side heap growth: 2,000 devices connected idle, then each sending ACTIVE_MESSAGES messages. */
async function memory(): Promise<void> {
    const devices: HubDevice[] = [...Array(MEMORY_DEVICES).keys()].map((i) => hubDevice(`mem-${i}`))
    const hub = await startHubEmulator(devices)
    const job = (messages: number): LoadJob => ({ port: hub.mqttPort, ca: hub.ca, devices: devices.map((d) => ({ deviceId: d.deviceId, key: d.primaryKey })), messages })
    try {
        const before = await memoryNow()
        const idle = startLoad(job(0))
        await idle.result
        const connected = await memoryNow()
        idle.child.stdin!.end()
        await new Promise((r) => setTimeout(r, 500))
        const active = startLoad(job(ACTIVE_MESSAGES))
        await active.result
        const after = await memoryNow()
        const kept = hub.emulator.state.hub.telemetry.size
        row(`emulator heap per idle connected device (${MEMORY_DEVICES} devices)`, `${fmt((connected - before) / MEMORY_DEVICES / 1024)} KiB`)
        row(
            `emulator heap per device after ${ACTIVE_MESSAGES} messages each (${MEMORY_DEVICES} devices)`,
            `${fmt((after - before) / MEMORY_DEVICES / 1024)} KiB (telemetry kept: ${kept.messages} msgs, ${fmt(kept.bytes / 1024 / 1024)} MiB of the bound)`
        )
    } finally {
        await hub.stop()
    }
}

export async function benchState() {
    console.log("emulator state (issue 13)")
    await memory()
    await durability()
    await sizeAndReopen()
}

if (require.main === module)
    benchState().then(
        () => process.exit(0),
        (e: Error) => {
            console.error(`bench: ${e.message}`)
            process.exit(1)
        }
    )
