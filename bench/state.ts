// Emulator state figures (issue 13): what durability costs per message (QoS 1 telemetry latency and
// throughput, commits per message), the store's size per device, the time to reopen a state of
// 10,000 devices. Memory per idle and per active device is in the scaling table (scaling.ts).
// `npm run bench:state` (also part of `npm run bench`). Prints figures, asserts nothing.
import { execFileSync } from "child_process"
import * as path from "path"
import { Emulator } from "../sim/emulator"
import { twinApplyPatch } from "../sim/emulator/state/twin"
import { startTestEmulator, tempDir, testConfig } from "../test/support/emulator"
import { HubDevice, hubDevice } from "../test/emulator/hub-fixtures"
import { LoadResult } from "./hub-load-client"
import { startLoad } from "./load"
import { fmt, row } from "./stats"

const REOPEN_DEVICES = 10_000

function dirBytes(dir: string): number {
    return Number(execFileSync("du", ["-sb", dir]).toString().split("\t")[0])
}

/** Stop-and-wait QoS 1 telemetry through the real store: per-message latency with one client, throughput with 32. */
async function durability(): Promise<void> {
    for (const clients of [1, 32]) {
        const devices: HubDevice[] = [...Array(clients).keys()].map((i) => hubDevice(`dur-${i}`))
        const hub = await startTestEmulator({ devices: devices })
        try {
            const commits0 = hub.emulator.storeStats()!.commits
            const load = startLoad()
            await load.ask({ cmd: "connect", port: hub.mqttPort, ca: hub.ca, devices: devices.map((d) => ({ deviceId: d.deviceId, key: d.primaryKey })) })
            const r = await load.ask<LoadResult>({ cmd: "publish", messages: Math.ceil(4000 / clients) }).finally(() => load.end())
            const commits = hub.emulator.storeStats()!.commits - commits0
            row(
                `QoS 1 telemetry through the store, ${clients} client(s), stop-and-wait`,
                `${fmt(r.ms / (r.count / clients), 2)} ms/msg per client, ${fmt((r.count / r.ms) * 1000)} msg/s, ${fmt(r.count / commits, 1)} msg per fsync'd commit`
            )
        } finally {
            await hub.stop()
        }
    }
}

/** A state of `n` devices made as DPS would (identity, registration, a reported twin), written and closed. */
async function writeState(dir: string, n: number): Promise<void> {
    const config = await testConfig({ service: {} })
    const e = new Emulator(config, { stateDir: dir })
    await e.start()
    const now = new Date()
    for (let i = 0; i < n; i++) {
        const id = `dev-${String(i).padStart(5, "0")}`
        const d = hubDevice(id)
        const rec = e.state.hub.assignDevice(
            id,
            "localhost",
            { type: "sas", keys: { primaryKey: d.primaryKey, secondaryKey: d.secondaryKey } },
            now,
            "enabled",
            {
                registrationId: id,
                enrollmentId: "fleet",
            }
        )
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
    const config = await testConfig({ service: {} })
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

export async function benchState() {
    console.log("emulator state (issue 13)")
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
