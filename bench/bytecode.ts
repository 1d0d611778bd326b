// Bytecode figures: the firmware's size against its goal, and where it goes: function code per
// source module (from the compiler's debug info), strings and the rest. Builds the firmware
// afresh so the compiler's debug output is the firmware's, not the last test program's.
import * as fs from "fs"
import * as path from "path"
import { buildFirmware } from "../sim/host/build"
import { FIRMWARE_ENTRY, FIRMWARE_IMAGE, ROOT } from "../sim/paths"
import { goalRow, row } from "./stats"

const GOAL_BYTES = 24 * 1024
const DEBUG_INFO = path.join(ROOT, ".devicescript", "bin", "bytecode-dbg.json")
/** Modules listed one by one; the rest are summed. */
const LISTED = 14

interface DebugInfo {
    sizes: Record<string, number>
    functions: { name: string; location: [number, number]; size: number }[]
    sources: { path: string; length: number }[]
}

/** Function bytes per source file: a function's location is an offset into all sources laid end to end. */
export function bytesPerModule(dbg: DebugInfo): Map<string, number> {
    const starts: number[] = []
    let at = 0
    for (const s of dbg.sources) {
        starts.push(at)
        at += s.length
    }
    const per = new Map<string, number>()
    for (const f of dbg.functions) {
        let i = starts.length - 1
        while (i > 0 && starts[i] > f.location[0]) i--
        const file = dbg.sources[i].path
        per.set(file, (per.get(file) ?? 0) + f.size)
    }
    return per
}

export async function benchBytecode() {
    console.log("bytecode")
    const { bytes } = await buildFirmware(FIRMWARE_ENTRY, FIRMWARE_IMAGE, { force: true })
    goalRow("firmware bytecode size, bytes", String(bytes), `<= ${GOAL_BYTES}`, bytes <= GOAL_BYTES)
    const dbg = JSON.parse(fs.readFileSync(DEBUG_INFO, "utf8")) as DebugInfo
    const per = [...bytesPerModule(dbg)].sort((a, b) => b[1] - a[1])
    const code = per.reduce((n, [, b]) => n + b, 0)
    const library = per.filter(([f]) => !f.startsWith("src/")).reduce((n, [, b]) => n + b, 0)
    row("function code: firmware (src/) / libraries", `${code - library} / ${library} bytes (${dbg.functions.length} functions)`)
    row("strings / header", `${dbg.sizes.strings} / ${dbg.sizes.header} bytes`)
    for (const [file, b] of per.filter(([f]) => f.startsWith("src/")).slice(0, LISTED)) row(`  ${file}`, `${b} bytes`)
}
