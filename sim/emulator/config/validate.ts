// Validation: the schema's verdict on a configuration given as data, every problem named by the
// path of its setting, all at once so a user fixes them in one go.
import { z } from "zod"
import { ConfigFiles } from "./certificates"
import { EmulatorConfig, configSchema } from "./schema"

export class ConfigError extends Error {}

/** `enrollments[0].attestation.type`, as a user finds it in the file. */
function settingPath(path: readonly PropertyKey[]): string {
    if (path.length === 0) return "config"
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("")
}

/** Problems grouped by setting: paths compared part by part, indexes as numbers. */
function byPath(a: z.core.$ZodIssue, b: z.core.$ZodIssue): number {
    for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
        const [x, y] = [a.path[i], b.path[i]]
        if (x === y) continue
        if (typeof x === "number" && typeof y === "number") return x - y
        return String(x) < String(y) ? -1 : 1
    }
    return a.path.length - b.path.length
}

function problemsText(issues: readonly z.core.$ZodIssue[]): string {
    return [...issues]
        .sort(byPath)
        .map((i) => `${settingPath(i.path)}: ${i.message}`)
        .join("; ")
}

// Building a schema costs more than parsing with it (zod compiles its object parsers on first use): one per reader.
const schemas = new WeakMap<ConfigFiles, ReturnType<typeof configSchema>>()

const KINDS: Record<string, string> = {
    array: "a list",
    object: "an object",
    int: "a whole number",
    number: "a number",
    string: "a string",
    boolean: "true or false",
}

/** Words for the type checks the schema states without a message of its own. */
function typeMessage(issue: z.core.$ZodRawIssue): string | undefined {
    if (issue.code !== "invalid_type") return undefined
    const kind = KINDS[issue.expected] ?? issue.expected
    return issue.input === undefined ? `is required (${kind})` : `must be ${kind}`
}

/** The typed configuration, or a ConfigError naming every problem. */
export function parseConfig(raw: unknown, files: ConfigFiles): EmulatorConfig {
    let schema = schemas.get(files)
    if (!schema) {
        schema = configSchema(files)
        schemas.set(files, schema)
    }
    const result = schema.safeParse(raw, { error: typeMessage })
    if (!result.success) throw new ConfigError(problemsText(result.error.issues))
    return result.data
}
