// npm run mutate:firmware: plants each mutant of firmware-mutants.ts in a scratch copy of the
// checkout (src/ here is never written, so Ctrl-C or a crash cannot leave it mutated), runs the
// mutant's tests there (they rebuild the firmware from the copy's src/), and reports which
// mutants the tests caught. Exit status 1 if any was missed or the unmutated tests fail.
//   npm run mutate:firmware -- [--only REGEX] [--skip-baseline]
import { spawn } from "child_process"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import { ROOT } from "../../sim/paths"
import { FIRMWARE_MUTANTS, FirmwareMutant } from "./firmware-mutants"

/** Not copied: dependencies are linked, build outputs and scratch made anew. */
const SKIP = new Set([".git", "node_modules", "build", ".stryker-tmp", "reports"])
const MOCHA = path.join(ROOT, "node_modules", "mocha", "bin", "mocha.js")

function copyCheckout(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "firmware-mutants-"))
    for (const ent of fs.readdirSync(ROOT)) {
        if (SKIP.has(ent)) continue
        fs.cpSync(path.join(ROOT, ent), path.join(dir, ent), { recursive: true, filter: (src) => !src.endsWith(".lock") })
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir")
    return dir
}

/** Runs the mutant's tests in `dir`; resolves with its exit code (null if killed) and output. */
function runTests(dir: string, m: FirmwareMutant): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
        const args = [
            MOCHA,
            "--no-config",
            "-r",
            "ts-node/register/transpile-only",
            "--extension",
            "ts",
            "--timeout",
            "120000",
            "--exit",
            ...(m.grep ? ["--grep", m.grep] : []),
            ...m.tests,
        ]
        const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, ...m.env }, stdio: ["ignore", "pipe", "pipe"] })
        let output = ""
        child.stdout.on("data", (d) => (output += d))
        child.stderr.on("data", (d) => (output += d))
        child.on("close", (code) => resolve({ code, output }))
    })
}

function plant(dir: string, m: FirmwareMutant): () => void {
    const file = path.join(dir, m.file)
    const original = fs.readFileSync(path.join(ROOT, m.file), "utf8")
    const at = original.indexOf(m.from)
    if (at < 0 || original.indexOf(m.from, at + 1) >= 0) throw new Error(`mutant "${m.name}": the text to replace must occur exactly once in ${m.file}`)
    fs.writeFileSync(file, original.slice(0, at) + m.to + original.slice(at + m.from.length))
    return () => fs.writeFileSync(file, original)
}

async function main() {
    const argv = process.argv.slice(2)
    const onlyAt = argv.indexOf("--only")
    const only = onlyAt >= 0 ? new RegExp(argv[onlyAt + 1], "i") : undefined
    const mutants = FIRMWARE_MUTANTS.filter((m) => !only || only.test(m.name))
    const dir = copyCheckout()
    const cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
    process.on("exit", cleanup)
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130))
    console.log(`firmware mutants: ${mutants.length}, in a copy at ${dir}`)

    if (!argv.includes("--skip-baseline")) {
        const sets = new Map(mutants.map((m) => [JSON.stringify([m.tests, m.grep, m.env ?? {}]), m]))
        for (const m of sets.values()) {
            const r = await runTests(dir, m)
            if (r.code !== 0) {
                console.log(r.output)
                console.log(`baseline: ${m.tests.join(" ")} fails without any mutant; fix that first`)
                process.exit(1)
            }
        }
        console.log(`baseline: ${sets.size} test set(s) pass unmutated`)
    }

    const missed: string[] = []
    for (const m of mutants) {
        const started = Date.now()
        const restore = plant(dir, m)
        let r: { code: number | null; output: string }
        try {
            r = await runTests(dir, m)
        } finally {
            restore()
        }
        const caught = r.code !== 0
        if (!caught) missed.push(m.name)
        console.log(`${caught ? "caught" : "MISSED"}  ${m.name}  (${m.file}; ${m.tests.join(", ")}; ${Math.round((Date.now() - started) / 1000)} s)`)
    }
    console.log(`firmware mutants: ${mutants.length - missed.length} of ${mutants.length} caught` + (missed.length ? `; missed: ${missed.join("; ")}` : ""))
    process.exit(missed.length ? 1 : 0)
}

main().catch((e) => {
    console.error(e)
    process.exit(1)
})
