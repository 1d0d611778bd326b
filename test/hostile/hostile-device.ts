// The real firmware image booted against a CloudPeer, watched for what must never happen: the VM exiting
// (a panic, an uncaught exception), a `fatal:` line, or an exception report.
import * as assert from "assert"
import * as crypto from "crypto"
import { SimulatedDevice } from "../../sim/host/device"
import { DeviceSettings } from "../../sim/host/device-settings"
import { firmwareBytecode } from "../e2e/harness"
import { CloudPeer, Script } from "./cloud-peer"
import { Issued, issue, makeCa, makeWorkDir } from "../host/throwaway-pki"

export interface PeerPki {
    ca: Issued
    server: Issued
}

export function makePeerPki(): PeerPki {
    const dir = makeWorkDir()
    const ca = makeCa(dir, "hostile-root")
    return { ca, server: issue(dir, ca, "localhost", ["DNS:localhost", "IP:127.0.0.1"]) }
}

export interface Watched {
    device: SimulatedDevice
    /** Console lines of every run, in order. */
    lines: string[]
    /** What must stay empty: exits, exception reports, fatal lines. */
    failures: string[]
    /** The first console line (of the current run) matching re. */
    line(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
    /** How many console lines so far match re. */
    count(re: RegExp): number
    stop(): Promise<void>
}

const EXCEPTION = /^\* (Exception|\s+message:)|^! /

export async function bootAgainst(
    ports: { mqttPort: number; timePort: number },
    pki: PeerPki,
    settings: DeviceSettings,
    onVmStep?: (memory: Uint8Array) => void
): Promise<Watched> {
    const device = new SimulatedDevice(
        {
            bytecode: await firmwareBytecode(),
            settings: {
                ID_SCOPE: "0ne00000F00",
                DEVICE_KEY: crypto.randomBytes(32).toString("base64"),
                DPS_HOST: `localhost:${ports.mqttPort}`,
                TIME_HOST: `localhost:${ports.timePort}`,
                INTERVAL: 1,
                ...settings,
            },
            trustAnchors: [pki.ca.cert],
        },
        { onVmStep }
    )
    const lines: string[] = []
    const failures: string[] = []
    device.on("console", (l) => {
        lines.push(l)
        if (l.startsWith("fatal:")) failures.push(l)
    })
    device.on("dmesg", (l) => {
        if (EXCEPTION.test(l)) failures.push(l)
        if (process.env.HOSTILE_DMESG) lines.push(`dmesg: ${l}`)
    })
    device.on("exit", (code) => failures.push(`VM exited with code ${code}`))
    await device.boot()
    return {
        device,
        lines,
        failures,
        line: (re, timeoutMs = 30000) => device.waitForConsole(re, timeoutMs),
        count: (re) => lines.filter((l) => re.test(l)).length,
        stop: () => device.stop(),
    }
}

export function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms))
}

/** One attack: the peer's script, the device's settings, and what must follow. */
export interface Case {
    name: string
    settings?: DeviceSettings
    script?: Script
    run(peer: CloudPeer, d: Watched): Promise<void>
}

/**
 * Runs the cases side by side (each its own VM and peer, so the suite takes as long as its longest case),
 * then one `it` per case. HOSTILE_ONLY=<regex> runs the matching cases alone.
 */
export function defineCases(cases: Case[]): void {
    const outcomes = new Map<string, Error | null>()
    before(async () => {
        const pki = makePeerPki()
        const only = process.env.HOSTILE_ONLY ? new RegExp(process.env.HOSTILE_ONLY) : undefined
        await Promise.all(
            cases
                .filter((k) => !only || only.test(k.name))
                .map(async (k, i) => {
                    const peer = new CloudPeer({ cert: pki.server.cert, key: pki.server.key, script: k.script })
                    const ports = await peer.listen()
                    let d: Watched | undefined
                    try {
                        d = await bootAgainst(ports, pki, { REG_ID: `hostile-${i}`, ...k.settings })
                        await k.run(peer, d)
                        assert.deepStrictEqual(d.failures, [], "the VM must not panic or give up")
                        outcomes.set(k.name, null)
                    } catch (e) {
                        const tail = d ? `\nlast lines:\n  ${d.lines.slice(-12).join("\n  ")}\nfailures: ${d.failures.join("; ")}` : ""
                        outcomes.set(k.name, new Error(`${(e as Error).message}${tail}`))
                    } finally {
                        await d?.stop()
                        await peer.close()
                    }
                })
        )
    })
    for (const k of cases) {
        it(k.name, function () {
            if (!outcomes.has(k.name)) this.skip()
            const e = outcomes.get(k.name)
            if (e) throw e
        })
    }
}
