// One device's boot in a process of its own, timed from the process's start (performance.now()
// counts from it): the firmware in the simulator VM, or the official Node SDK (register, then
// open the hub connection and send one event). Both are timed and their TLS bytes counted the
// same way: every socket opened up to the assignment (for the firmware: the time sync and DPS).
// The job comes as one JSON line on stdin (keys never on the command line); one JSON line out.
import * as fs from "fs"
import * as net from "net"
import * as tls from "tls"

export interface BootJob {
    kind: "firmware" | "sdk"
    idScope: string
    registrationId: string
    key: string
    mqttPort: number
    httpsPort: number
    /** PEM of the emulator's root: the firmware image's trust anchor. */
    ca: string
    bytecodeFile: string
}

export interface BootResult {
    /** When the device's own work began: loading and booting the VM (its WASM compiled cold), or the SDK's register(). */
    startMs: number
    assignedMs: number
    telemetryMs: number
    /** TLS bytes both ways of the connections opened before the assignment. */
    wireBytes: number
}

// Counts the TCP bytes (TLS included) under every TLS socket the process opens: the simulator
// host and the SDK both call tls.connect({host, port, ...}), here given a TCP socket of ours.
const sockets: { tcp: net.Socket; beforeAssigned: boolean }[] = []
let assigned = false
// The module object itself: an `import *` binding is read-only, and the host reads this one at call time.
const tlsModule = require("tls") as typeof tls
const realConnect = tlsModule.connect
;(tlsModule as any).connect = (opts: tls.ConnectionOptions) => {
    const tcp = net.connect({ host: opts.host!, port: opts.port! })
    sockets.push({ tcp, beforeAssigned: !assigned })
    return realConnect({ ...opts, socket: tcp })
}

function wireBytes(): number {
    let n = 0
    for (const s of sockets) if (s.beforeAssigned) n += s.tcp.bytesRead + s.tcp.bytesWritten
    return n
}

async function firmware(job: BootJob): Promise<BootResult> {
    const { SimulatedDevice } = await import("../sim/host/device")
    const device = new SimulatedDevice({
        bytecode: fs.readFileSync(job.bytecodeFile),
        settings: {
            ID_SCOPE: job.idScope,
            REG_ID: job.registrationId,
            DEVICE_KEY: job.key,
            DPS_HOST: `localhost:${job.mqttPort}`,
            TIME_HOST: `localhost:${job.httpsPort}`,
            INTERVAL: 1,
        },
        trustAnchors: [job.ca],
    })
    // Marked as the line is printed, inside the VM step: the hub's connection may open later in that same
    // step, before a promise continuation could run, and its handshake is not provisioning's.
    device.on("console", (line) => {
        if (line.startsWith("dps: assigned to ")) assigned = true
    })
    const startMs = performance.now()
    await device.boot()
    await device.waitForConsole(/^dps: assigned to /, 30000)
    const assignedMs = performance.now()
    await device.waitForConsole(/^hub: telemetry #1 acknowledged/, 30000)
    const telemetryMs = performance.now()
    // The DPS socket is closed by now; its counts are final.
    const result = { startMs, assignedMs, telemetryMs, wireBytes: wireBytes() }
    await device.stop()
    return result
}

async function sdk(job: BootJob): Promise<BootResult> {
    const { ProvisioningDeviceClient } = await import("azure-iot-provisioning-device")
    const { Mqtt: DpsMqtt } = await import("azure-iot-provisioning-device-mqtt")
    const { SymmetricKeySecurityClient } = await import("azure-iot-security-symmetric-key")
    const { Client, Message } = await import("azure-iot-device")
    const { Mqtt } = await import("azure-iot-device-mqtt")
    const security = new SymmetricKeySecurityClient(job.registrationId, job.key)
    const dps = ProvisioningDeviceClient.create(`localhost:${job.mqttPort}`, job.idScope, new DpsMqtt(), security as any)
    const startMs = performance.now()
    const r: any = await dps.register()
    const assignedMs = performance.now()
    assigned = true
    // The emulator's hub listens on the DPS port (8883 for both in Azure).
    const client = Client.fromConnectionString(`HostName=${r.assignedHub}:${job.mqttPort};DeviceId=${r.deviceId};SharedAccessKey=${job.key}`, Mqtt)
    await client.open()
    const m = new Message(JSON.stringify({ temperature: 21.5, humidity: 45.1 }))
    m.contentType = "application/json"
    m.contentEncoding = "utf-8"
    await client.sendEvent(m)
    const telemetryMs = performance.now()
    await client.close()
    // Counted once the DPS connection has closed, as for the firmware.
    return { startMs, assignedMs, telemetryMs, wireBytes: wireBytes() }
}

async function main() {
    let input = ""
    for await (const chunk of process.stdin) input += chunk
    const job = JSON.parse(input) as BootJob
    const result = job.kind === "firmware" ? await firmware(job) : await sdk(job)
    console.log(JSON.stringify(result))
    process.exit(0)
}

if (require.main === module) void main()
