// Child process of the emulator benchmarks, so the parent measures the emulator alone: holds
// device connections and sends QoS 1 telemetry on them (stop-and-wait on PUBACK), or runs whole
// provisioning flows, each for a device of its own. Commands arrive as JSON lines on stdin (keys
// never on the command line); each is answered with one JSON line. Exits when stdin closes.
import * as readline from "readline"
import { provision } from "../test/emulator/fixtures"
import { RawClient } from "../test/support/raw-mqtt-client"
import { hubConnect } from "../test/emulator/hub-fixtures"

export type LoadCommand =
    | { cmd: "connect"; port: number; ca: string; devices: { deviceId: string; key: string }[] }
    /** `messages` per connected device; latencies are per message, PUBLISH -> PUBACK. */
    | { cmd: "publish"; messages: number }
    /** Flows with `concurrency` at once, each enrollment used once, until all are done. */
    | { cmd: "provision"; port: number; ca: string; enrollments: { registrationId: string; key: string }[]; concurrency: number }

export interface LoadResult {
    count: number
    ms: number
    latencies: number[]
    /** This process's CPU time over the command, µs: whether the load or the emulator set the pace. */
    cpuUs: number
}

// Below the emulator's bound on connections waiting to authenticate (sim/emulator/transport/tls-listener.ts).
const CONNECTING_AT_ONCE = 128

const clients: { client: RawClient; deviceId: string }[] = []

async function connect(c: Extract<LoadCommand, { cmd: "connect" }>): Promise<{ connected: number }> {
    for (let i = 0; i < c.devices.length; i += CONNECTING_AT_ONCE)
        await Promise.all(
            c.devices.slice(i, i + CONNECTING_AT_ONCE).map(async (d) => {
                const { code, client } = await hubConnect(c.port, c.ca, { deviceId: d.deviceId, key: d.key, clean: true })
                if (code !== 0) throw new Error(`${d.deviceId}: CONNACK ${code}`)
                clients.push({ client, deviceId: d.deviceId })
            })
        )
    return { connected: clients.length }
}

async function publish(c: Extract<LoadCommand, { cmd: "publish" }>): Promise<LoadResult> {
    const body = JSON.stringify({ temperature: 21.5, humidity: 45.1 })
    const latencies: number[] = []
    let id = 1
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    await Promise.all(
        clients.map(async ({ client, deviceId }) => {
            const topic = `devices/${deviceId}/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8`
            for (let k = 0; k < c.messages; k++) {
                const messageId = id++ % 65535 || 1
                const s = performance.now()
                client.send({ cmd: "publish", topic, payload: body, qos: 1, messageId, dup: false, retain: false })
                await client.next((p) => p.cmd === "puback" && p.messageId === messageId)
                latencies.push(performance.now() - s)
            }
        })
    )
    return { count: latencies.length, ms: performance.now() - t0, latencies, cpuUs: cpuSince(cpu0) }
}

async function provisionAll(c: Extract<LoadCommand, { cmd: "provision" }>): Promise<LoadResult> {
    const latencies: number[] = []
    let next = 0
    const worker = async () => {
        while (next < c.enrollments.length) {
            const e = c.enrollments[next++]
            const s = performance.now()
            const answers = await provision(c.port, c.ca, { registrationId: e.registrationId, key: e.key })
            if (answers[answers.length - 1].body.status !== "assigned") throw new Error(`${e.registrationId}: not assigned`)
            latencies.push(performance.now() - s)
        }
    }
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    await Promise.all([...Array(c.concurrency).keys()].map(worker))
    return { count: latencies.length, ms: performance.now() - t0, latencies, cpuUs: cpuSince(cpu0) }
}

function cpuSince(start: NodeJS.CpuUsage): number {
    const d = process.cpuUsage(start)
    return d.user + d.system
}

async function main() {
    const lines = readline.createInterface({ input: process.stdin })
    for await (const line of lines) {
        const c = JSON.parse(line) as LoadCommand
        const r = c.cmd === "connect" ? await connect(c) : c.cmd === "publish" ? await publish(c) : await provisionAll(c)
        console.log(JSON.stringify(r))
    }
    for (const { client } of clients) client.close()
    process.exit(0)
}

if (require.main === module)
    main().catch((e) => {
        console.error(`load client: ${(e as Error).message}`)
        process.exit(1)
    })
