// `npm run mutate:survivors [-- --write]`: the score of the last `npm run mutate` and its survivors, sorted
// into those docs/mutation.md accepts (with the reason written there) and those nobody has judged yet.
// A survivor is recognised by file, mutator and the code before and after the mutation, not by its line,
// so accepted reasons survive edits and reformatting elsewhere in a file. `--write` rewrites the marked
// sections of docs/mutation.md; without it the tables go to standard output.
import * as fs from "fs"
import * as path from "path"
import { parseArgs } from "util"

const ROOT = path.join(__dirname, "..", "..")
const REPORT = path.join(ROOT, "reports", "mutation", "mutation.json")
const DOC = path.join(ROOT, "docs", "mutation.md")
const SOURCE_PREFIX = "sim/emulator/"
const SNIPPET_CHARS = 60

interface Position {
    line: number
    column: number
}

interface Mutant {
    mutatorName: string
    replacement: string
    status: string
    location: { start: Position; end: Position }
}

interface Report {
    files: Record<string, { source: string; mutants: Mutant[] }>
}

interface Row {
    file: string
    line: number
    mutator: string
    status: string
    original: string
    replacement: string
}

/** Code as one table cell: the first line of a block ("{…"), at most SNIPPET_CHARS characters, pipes escaped. */
function snippet(code: string): string {
    const lines = code.split("\n")
    const first = lines.length > 1 ? `${lines[0]}…` : code
    return first.slice(0, SNIPPET_CHARS).replace(/\|/g, "\\|")
}

function textAt(source: string, start: Position, end: Position): string {
    const lines = source.split("\n")
    if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1)
    const middle = lines.slice(start.line, end.line - 1)
    return [lines[start.line - 1].slice(start.column - 1), ...middle, lines[end.line - 1].slice(0, end.column - 1)].join("\n")
}

const key = (r: { file: string; mutator: string; original: string; replacement: string }) => [r.file, r.mutator, r.original, r.replacement].join("\u0000")

/**
 * The accepted table of docs/mutation.md: `| file:line | mutator | status | `before` → `after` | reason |`. Rows that
 * share file, mutator and code (`true` → `false` twice in a file) keep their lines: a survivor takes the nearest's reason.
 */
function acceptedReasons(doc: string): (s: Row) => string | undefined {
    const reasons = new Map<string, { line: number; reason: string }[]>()
    const row = /^\| ([\w./-]+):(\d+) \| (\w+) \| \w+ \| `(.*)` → `(.*)` \| (.*) \|$/
    for (const line of section(doc, "accepted").split("\n")) {
        const m = line.match(row)
        if (!m) continue
        const k = key({ file: m[1], mutator: m[3], original: m[4], replacement: m[5] })
        reasons.set(k, [...(reasons.get(k) ?? []), { line: Number(m[2]), reason: m[6] }])
    }
    return (s) => reasons.get(key(s))?.reduce((a, b) => (Math.abs(b.line - s.line) < Math.abs(a.line - s.line) ? b : a)).reason
}

function section(doc: string, name: string): string {
    const start = doc.indexOf(`<!-- survivors:${name} -->`)
    const end = doc.indexOf(`<!-- /survivors:${name} -->`)
    if (start < 0 || end < start) throw new Error(`docs/mutation.md has no <!-- survivors:${name} --> section`)
    return doc.slice(start, end)
}

function replaceSection(doc: string, name: string, body: string): string {
    const open = `<!-- survivors:${name} -->`
    const start = doc.indexOf(open)
    const end = doc.indexOf(`<!-- /survivors:${name} -->`)
    return `${doc.slice(0, start + open.length)}\n${body}\n${doc.slice(end)}`
}

function main() {
    const { values } = parseArgs({ options: { write: { type: "boolean", default: false } }, strict: true })
    if (!fs.existsSync(REPORT)) throw new Error(`no ${path.relative(ROOT, REPORT)}: run npm run mutate first`)
    const report = JSON.parse(fs.readFileSync(REPORT, "utf8")) as Report
    const counts: Record<string, number> = {}
    const survivors: Row[] = []
    for (const [name, f] of Object.entries(report.files)) {
        const file = name.replace(/\\/g, "/").replace(SOURCE_PREFIX, "")
        for (const m of f.mutants) {
            counts[m.status] = (counts[m.status] ?? 0) + 1
            if (m.status !== "Survived" && m.status !== "NoCoverage") continue
            const original = snippet(textAt(f.source, m.location.start, m.location.end))
            survivors.push({ file, line: m.location.start.line, mutator: m.mutatorName, status: m.status, original, replacement: snippet(m.replacement) })
        }
    }
    survivors.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
    const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0)
    const scored = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0)
    const doc = fs.readFileSync(DOC, "utf8")
    const reasonOf = acceptedReasons(doc)
    const accepted = survivors.filter((s) => reasonOf(s) !== undefined)
    const open = survivors.filter((s) => reasonOf(s) === undefined)

    const summary = [
        "| mutants | killed | timed out | survived | no coverage | ignored | score |",
        "|---|---|---|---|---|---|---|",
        `| ${scored} scored | ${counts.Killed ?? 0} | ${counts.Timeout ?? 0} | ${counts.Survived ?? 0} | ${counts.NoCoverage ?? 0} | ${counts.Ignored ?? 0} | ${((100 * detected) / scored).toFixed(2)} % |`,
        "",
        `Survivors (survived or not covered): ${survivors.length}, of which ${accepted.length} accepted below and ${open.length} not yet judged.`,
    ].join("\n")
    const acceptedTable = [
        "| mutant | mutator | status | code | why it is accepted |",
        "|---|---|---|---|---|",
        ...accepted.map((s) => `| ${s.file}:${s.line} | ${s.mutator} | ${s.status} | \`${s.original}\` → \`${s.replacement}\` | ${reasonOf(s)} |`),
    ].join("\n")
    const byFile = new Map<string, string[]>()
    for (const s of open) byFile.set(s.file, [...(byFile.get(s.file) ?? []), `${s.line}${s.status === "NoCoverage" ? "*" : ""}`])
    const openList = [...byFile].map(([file, lines]) => `- \`${file}\` (${lines.length}): lines ${lines.join(", ")}`).join("\n")

    if (!values.write) {
        console.log(`${summary}\n\n${acceptedTable}\n\nnot yet judged (* no coverage):\n${openList}`)
        return
    }
    let out = replaceSection(doc, "summary", summary)
    out = replaceSection(out, "accepted", acceptedTable)
    out = replaceSection(out, "open", openList)
    fs.writeFileSync(DOC, out)
    console.log(`docs/mutation.md: score ${((100 * detected) / scored).toFixed(2)} %, ${accepted.length} accepted, ${open.length} not yet judged`)
}

main()
