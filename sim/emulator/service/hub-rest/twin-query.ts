// A small part of IoT Hub's query language, for `POST /devices/query` (azure-iothub's
// Registry.createQuery): `SELECT * FROM devices [WHERE <path> <op> <literal> [AND ...]]`, over the
// twins. Paths are dotted names into the twin (`deviceId`, `status`, `tags.site`,
// `properties.reported.fw`); operators = != <> < > <= >=; literals 'text' "text", numbers, true,
// false, null. Anything else (projections, OR, functions, GROUP BY, modules) is refused with 400
// rather than answered wrongly. Keywords are case-insensitive, as in IoT Hub.
import { RestError } from "../azure-rest"

type Literal = string | number | boolean | null
interface Condition {
    path: string[]
    op: "=" | "!=" | "<" | ">" | "<=" | ">="
    value: Literal
}

const TOKEN = /\s*(?:('(?:[^']|'')*')|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|(<=|>=|<>|!=|=|<|>|\*)|([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*))/y

function tokens(query: string): string[] {
    const out: string[] = []
    TOKEN.lastIndex = 0
    while (TOKEN.lastIndex < query.length) {
        if (/^\s*$/.test(query.slice(TOKEN.lastIndex))) break
        const m = TOKEN.exec(query)
        if (!m) throw unsupported(query, `cannot read it from "${query.slice(TOKEN.lastIndex).trim().slice(0, 20)}"`)
        out.push(m[0].trim())
    }
    return out
}

const unsupported = (query: string, why: string) =>
    new RestError(400, "ArgumentInvalid", `query ${JSON.stringify(query)}: ${why} (the emulator takes SELECT * FROM devices [WHERE path op literal [AND ...]])`)

function literal(t: string, query: string): Literal {
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'")
    if (t.startsWith('"')) return JSON.parse(t)
    if (/^-?\d/.test(t)) return Number(t)
    const word = t.toLowerCase()
    if (word === "true" || word === "false") return word === "true"
    if (word === "null") return null
    throw unsupported(query, `${t} is not a literal`)
}

/** The conditions of a query, all of which a twin must meet. */
export function parseTwinQuery(query: string): Condition[] {
    const t = tokens(query)
    const word = (i: number) => t[i]?.toLowerCase()
    if (word(0) !== "select" || t[1] !== "*" || word(2) !== "from" || word(3) !== "devices") throw unsupported(query, "only SELECT * FROM devices is emulated")
    if (t.length === 4) return []
    if (word(4) !== "where") throw unsupported(query, `${t[4]} is not emulated`)
    const conditions: Condition[] = []
    for (let i = 5; ; i += 4) {
        const [path, op, value, next] = [t[i], t[i + 1], t[i + 2], t[i + 3]]
        if (!path || !op || value === undefined || !/^[A-Za-z_$]/.test(path)) throw unsupported(query, "a condition is path op literal")
        if (!["=", "!=", "<>", "<", ">", "<=", ">="].includes(op)) throw unsupported(query, `${op} is not an operator`)
        conditions.push({ path: path.split("."), op: op === "<>" ? "!=" : (op as Condition["op"]), value: literal(value, query) })
        if (next === undefined) return conditions
        if (next.toLowerCase() !== "and") throw unsupported(query, `${next} is not emulated (only AND)`)
    }
}

function valueAt(doc: unknown, path: string[]): unknown {
    let v: any = doc
    for (const p of path) v = v !== null && typeof v === "object" ? v[p] : undefined
    return v
}

/** IoT Hub compares like types only; a missing property meets no condition. */
export function twinMatches(twin: unknown, conditions: Condition[]): boolean {
    return conditions.every(({ path, op, value }) => {
        const v = valueAt(twin, path)
        if (v === undefined) return false
        if (op === "=") return v === value
        if (op === "!=") return v !== value
        if (typeof v !== typeof value || (typeof v !== "number" && typeof v !== "string")) return false
        const a = v as number | string
        const b = value as number | string
        return op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b
    })
}
