// Runs the official Azure IoT device SDK (azure-iot-device + azure-iot-device-mqtt) against the
// emulator's hub face, as a child process so NODE_EXTRA_CA_CERTS (how that SDK is given a
// private CA) takes effect. The job comes as one JSON line on stdin; each step prints one JSON
// line. The device then answers methods, desired updates and C2D until stdin closes.
import { ChildProcess, spawn } from "child_process"
import { Client, Message } from "azure-iot-device"
import { Mqtt } from "azure-iot-device-mqtt"
import type { ClientCert } from "../support/raw-mqtt-client"

export interface SdkHubJob {
    /** `HostName=localhost:<port>;DeviceId=...;SharedAccessKey=...`, or `...;x509=true` with `x509`. */
    connectionString: string
    /** The device certificate chain and key of an X.509 connection string. */
    x509?: ClientCert
    /** Only open the connection and report the outcome (the wrong-key case). */
    openOnly?: boolean
}

/** One line the child prints: `step` names what happened. */
export type SdkHubLine = { step: string; [k: string]: any }

const print = (line: SdkHubLine) => console.log(JSON.stringify(line))
const errorLine = (step: string, e: any): SdkHubLine => ({ step, ok: false, errorName: e?.name, errorClass: e?.constructor?.name, message: String(e?.message) })

async function device(job: SdkHubJob, stdinClosed: Promise<void>) {
    const client = Client.fromConnectionString(job.connectionString, Mqtt)
    try {
        if (job.x509) await client.setOptions({ cert: job.x509.cert, key: job.x509.key })
        await client.open()
    } catch (e) {
        return print(errorLine("open", e))
    }
    print({ step: "open", ok: true })
    if (job.openOnly) return void (await client.close())
    const message = new Message(JSON.stringify({ temperature: 21.5 }))
    message.contentType = "application/json"
    message.contentEncoding = "utf-8"
    message.messageId = "sdk-msg-1"
    message.properties.add("alert", "yes")
    message.properties.add("path", "a/b&c")
    await client.sendEvent(message)
    print({ step: "sendEvent", ok: true })
    const twin = await client.getTwin()
    print({ step: "getTwin", desired: twin.properties.desired, reported: twin.properties.reported })
    await new Promise<void>((resolve, reject) => twin.properties.reported.update({ firmware: "sdk", rate: 5 }, (e: any) => (e ? reject(e) : resolve())))
    print({ step: "reported", ok: true })
    twin.on("properties.desired", (delta: any) => print({ step: "desired", delta }))
    client.onDeviceMethod("echo", (req, res) => {
        print({ step: "method", methodName: req.methodName, payload: req.payload })
        res.send(200, { echo: req.payload }, () => {})
    })
    client.on("message", (msg: Message) => {
        const props: Record<string, string> = {}
        for (let i = 0; i < msg.properties.count(); i++) props[msg.properties.getItem(i).key] = msg.properties.getItem(i).value
        print({ step: "c2d", body: msg.data.toString(), messageId: msg.messageId, properties: props })
        client.complete(msg, (e) => print({ step: "completed", ok: !e }))
    })
    print({ step: "ready" })
    await stdinClosed
    await client.close()
}

/** Starts the child; `lines` gets each line as it comes, `done` resolves when the child exits. */
export function startSdkHub(
    job: SdkHubJob,
    caFile: string
): { child: ChildProcess; lines: SdkHubLine[]; next(step: string): Promise<SdkHubLine>; done: Promise<void> } {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", __filename], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    })
    const lines: SdkHubLine[] = []
    const waiters: { step: string; resolve: (l: SdkHubLine) => void; reject: (e: Error) => void }[] = []
    let stderr = ""
    let pending = ""
    child.stderr!.on("data", (d) => (stderr += d))
    child.stdout!.on("data", (d) => {
        pending += d
        const parts = pending.split("\n")
        pending = parts.pop()!
        for (const text of parts.filter(Boolean)) {
            const line = JSON.parse(text) as SdkHubLine
            const i = waiters.findIndex((w) => w.step === line.step)
            if (i >= 0) waiters.splice(i, 1)[0].resolve(line)
            else lines.push(line)
        }
    })
    const done = new Promise<void>((resolve) =>
        child.on("exit", () => {
            for (const w of waiters.splice(0)) w.reject(new Error(`SDK child exited before "${w.step}": ${stderr}`))
            resolve()
        })
    )
    child.stdin!.write(JSON.stringify(job) + "\n")
    const next = (step: string) => {
        const i = lines.findIndex((l) => l.step === step)
        if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0])
        if (child.exitCode !== null) return Promise.reject(new Error(`SDK child exited: ${stderr}`))
        return new Promise<SdkHubLine>((resolve, reject) => waiters.push({ step, resolve, reject }))
    }
    return { child, lines, next, done }
}

async function main() {
    let input = ""
    let resolveClosed!: () => void
    const stdinClosed = new Promise<void>((r) => (resolveClosed = r))
    const job = await new Promise<SdkHubJob>((resolve) => {
        process.stdin.setEncoding("utf8")
        process.stdin.on("data", (d: string) => {
            input += d
            const nl = input.indexOf("\n")
            if (nl >= 0) resolve(JSON.parse(input.slice(0, nl)))
        })
        process.stdin.on("end", resolveClosed)
    })
    await device(job, stdinClosed).catch((e) => print(errorLine("failed", e)))
    process.exit(0)
}

if (require.main === module) void main()
