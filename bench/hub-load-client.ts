// Child process of the hub benchmark: N device connections that each send QoS 1 telemetry
// (stop-and-wait on PUBACK), or hold idle connections, so the parent measures the server alone.
// The job arrives as JSON on stdin (keys never on the command line); results as one JSON line.
import { RawClient } from "../test/emulator/fixtures"
import { hubConnect } from "../test/emulator/hub-fixtures"

export interface LoadJob {
    port: number
    ca: string
    devices: { deviceId: string; key: string }[]
    /** Messages per device; 0 = connect, report, then hold until stdin closes. */
    messages: number
}

// Below the emulator's bound on connections waiting to authenticate (sim/emulator/transport/tls-listener.ts).
const CONNECTING_AT_ONCE = 128

async function connectAll(job: LoadJob): Promise<RawClient[]> {
    const clients: RawClient[] = []
    for (let i = 0; i < job.devices.length; i += CONNECTING_AT_ONCE)
        clients.push(
            ...(await Promise.all(
                job.devices.slice(i, i + CONNECTING_AT_ONCE).map(async (d) => {
                    const { code, client } = await hubConnect(job.port, job.ca, { deviceId: d.deviceId, key: d.key, clean: true })
                    if (code !== 0) throw new Error(`${d.deviceId}: CONNACK ${code}`)
                    return client
                })
            ))
        )
    return clients
}

async function main() {
    let input = ""
    process.stdin.setEncoding("utf8")
    for await (const chunk of process.stdin) {
        input += chunk
        if (input.endsWith("\n")) break
    }
    const job = JSON.parse(input) as LoadJob
    const clients = await connectAll(job)
    if (job.messages === 0) {
        console.log(JSON.stringify({ connected: clients.length }))
        process.stdin.resume()
        process.stdin.on("end", () => process.exit(0))
        return
    }
    const body = JSON.stringify({ temperature: 21.5, humidity: 45.1 })
    let id = 1
    const t0 = performance.now()
    await Promise.all(
        clients.map(async (c, i) => {
            const topic = `devices/${job.devices[i].deviceId}/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8`
            for (let k = 0; k < job.messages; k++) {
                const messageId = id++ % 65535 || 1
                c.send({ cmd: "publish", topic, payload: body, qos: 1, messageId, dup: false, retain: false })
                await c.next((p) => p.cmd === "puback" && p.messageId === messageId)
            }
        })
    )
    const ms = performance.now() - t0
    for (const c of clients) c.close()
    console.log(JSON.stringify({ messages: clients.length * job.messages, ms }))
    process.exit(0)
}

if (require.main === module) void main()
