// Firmware against the official Node SDK, measured the same way: each boot in a process of its
// own (bench/boot-child.ts), from that process's start, firmware and SDK runs interleaved.
import { spawn } from "child_process"
import * as path from "path"
import { FIRMWARE_IMAGE } from "../sim/paths"
import { individual } from "../test/emulator/fixtures"
import { ID_SCOPE, startTestEmulator, testPki } from "../test/support/emulator"
import { firmwareBytecode } from "../test/e2e/harness"
import type { BootJob, BootResult } from "./boot-child"
import { goalRow, median, row, spread } from "./stats"

export const BOOT_RUNS = 5

function runChild(job: BootJob, caFile: string): Promise<BootResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "boot-child.ts")], {
            // How the SDK is given a private CA; the firmware's trust comes from its image.
            env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
            stdio: ["pipe", "pipe", "inherit"],
        })
        let out = ""
        child.stdout!.on("data", (d) => (out += d))
        child.on("exit", (code) =>
            code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`${job.kind} boot exited ${code}: ${out}`))
        )
        child.stdin!.end(JSON.stringify(job))
    })
}

export async function benchBoot() {
    console.log(`boot, firmware vs official Node SDK (each its own process, from process start, interleaved, ${BOOT_RUNS} runs: min / median / max)`)
    await firmwareBytecode()
    const ids = [...Array(BOOT_RUNS).keys()].flatMap((i) => [`boot-fw-${i}`, `boot-sdk-${i}`])
    const enrollments = ids.map((id) => individual(id))
    const emu = await startTestEmulator({ enrollments: enrollments })
    const caFile = (await testPki()).rootCertFile
    const fw: BootResult[] = []
    const sdk: BootResult[] = []
    try {
        for (let i = 0; i < BOOT_RUNS; i++)
            for (const kind of ["firmware", "sdk"] as const) {
                const e = enrollments.find((x) => x.registrationId === `boot-${kind === "firmware" ? "fw" : "sdk"}-${i}`)!
                const job: BootJob = {
                    kind,
                    idScope: ID_SCOPE,
                    registrationId: e.registrationId,
                    key: e.attestation.primaryKey,
                    mqttPort: emu.mqttPort,
                    httpsPort: emu.httpsPort,
                    ca: emu.ca,
                    bytecodeFile: FIRMWARE_IMAGE,
                }
                ;(kind === "firmware" ? fw : sdk).push(await runChild(job, caFile))
            }
    } finally {
        await emu.stop()
    }
    const pick = (rs: BootResult[], f: (r: BootResult) => number) => rs.map(f)
    const fwAssigned = pick(fw, (r) => r.assignedMs)
    const sdkAssigned = pick(sdk, (r) => r.assignedMs)
    const fwTel = pick(fw, (r) => r.telemetryMs)
    const sdkTel = pick(sdk, (r) => r.telemetryMs)
    row("firmware: process start -> assigned, ms", spread(fwAssigned))
    row("official Node SDK: process start -> assigned, ms", spread(sdkAssigned))
    const rAssigned = median(fwAssigned) / median(sdkAssigned)
    goalRow("ratio firmware / SDK, start -> assigned (medians)", rAssigned.toFixed(2), "<= 0.8", rAssigned <= 0.8)
    row("firmware: process start -> first acknowledged telemetry, ms", spread(fwTel))
    row("official Node SDK: process start -> first acknowledged telemetry, ms", spread(sdkTel))
    const rTel = median(fwTel) / median(sdkTel)
    goalRow("ratio firmware / SDK, start -> first telemetry (medians)", rTel.toFixed(2), "<= 0.8", rTel <= 0.8)
    row("firmware: VM load + boot -> assigned (in the child), ms", spread(pick(fw, (r) => r.assignedMs - r.startMs)))
    row("official Node SDK: register() -> assigned (in the child), ms", spread(pick(sdk, (r) => r.assignedMs - r.startMs)))
    row("firmware: VM load + boot -> first telemetry (in the child), ms", spread(pick(fw, (r) => r.telemetryMs - r.startMs)))
    row("official Node SDK: register() -> first telemetry (in the child), ms", spread(pick(sdk, (r) => r.telemetryMs - r.startMs)))
    const fwWire = median(pick(fw, (r) => r.wireBytes))
    const sdkWire = median(pick(sdk, (r) => r.wireBytes))
    row(
        "wire bytes per provisioning, firmware (time sync + DPS, TLS incl.)",
        spread(
            pick(fw, (r) => r.wireBytes),
            0
        )
    )
    row(
        "wire bytes per provisioning, Node SDK (DPS, TLS incl.)",
        spread(
            pick(sdk, (r) => r.wireBytes),
            0
        )
    )
    goalRow("wire bytes firmware / SDK (medians)", (fwWire / sdkWire).toFixed(2), "<= 1.00", fwWire <= sdkWire)
}

if (require.main === module)
    benchBoot().then(
        () => process.exit(0),
        (e: Error) => {
            console.error(`bench: ${e.message}`)
            process.exit(1)
        }
    )
