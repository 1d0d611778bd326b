// The device's IoT Plug and Play model (models/), parsed by the official DTDL parser, and a check of
// JSON payloads against it: each member declared, each value of its declared schema.
import * as fs from "fs"
import * as path from "path"
import { createParser, ModelParsingOption } from "@azure/dtdl-parser"
import { ROOT } from "../../sim/paths"

export const MODEL_FILE = path.join(ROOT, "models", "SensorBoard-1.json")

interface SchemaInfo {
    entityKind: string
    fields?: { name: string; schema: SchemaInfo }[]
}

export interface ContentInfo {
    entityKind: "telemetry" | "property" | "command" | string
    name: string
    schema?: SchemaInfo
    writable?: boolean
    request?: { schema: SchemaInfo }
    response?: { schema: SchemaInfo }
}

export interface PnpModel {
    id: string
    contents: Record<string, ContentInfo>
}

/** Throws with the parser's errors when the model is not valid DTDL. */
export async function loadPnpModel(file = MODEL_FILE): Promise<PnpModel> {
    const text = fs.readFileSync(file, "utf8")
    let parsed: Record<string, any>
    try {
        parsed = await createParser(ModelParsingOption.PermitAnyTopLevelElement).parse([text])
    } catch (e: any) {
        throw new Error(`${file}: ${JSON.stringify(e._parsingErrors ?? e.message)}`)
    }
    const id = JSON.parse(text)["@id"]
    return { id, contents: parsed[id].contents }
}

/** Problems of `value` against a DTDL schema, as "path: why" lines (none = conforms). */
export function schemaProblems(schema: SchemaInfo, value: unknown, where: string): string[] {
    switch (schema.entityKind) {
        case "double":
        case "float":
            return typeof value === "number" && Number.isFinite(value) ? [] : [`${where}: ${JSON.stringify(value)} is not a ${schema.entityKind}`]
        case "integer":
        case "long":
            return Number.isInteger(value) ? [] : [`${where}: ${JSON.stringify(value)} is not an ${schema.entityKind}`]
        case "string":
            return typeof value === "string" ? [] : [`${where}: ${JSON.stringify(value)} is not a string`]
        case "boolean":
            return typeof value === "boolean" ? [] : [`${where}: ${JSON.stringify(value)} is not a boolean`]
        case "object": {
            if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${where}: not an object`]
            const fields = schema.fields ?? []
            const v = value as Record<string, unknown>
            const extra = Object.keys(v)
                .filter((k) => !fields.some((f) => f.name === k))
                .map((k) => `${where}.${k}: not in the model`)
            return extra.concat(
                fields.flatMap((f) => (f.name in v ? schemaProblems(f.schema, v[f.name], `${where}.${f.name}`) : [`${where}.${f.name}: missing`]))
            )
        }
        default:
            return [`${where}: schema ${schema.entityKind} not checked here`]
    }
}

/** A telemetry message: every member a Telemetry of the model, of its schema. */
export function telemetryProblems(model: PnpModel, body: Record<string, unknown>): string[] {
    return Object.entries(body).flatMap(([name, value]) => {
        const c = model.contents[name]
        if (c?.entityKind !== "telemetry") return [`telemetry ${name}: not a Telemetry of ${model.id}`]
        return schemaProblems(c.schema!, value, `telemetry ${name}`)
    })
}

/** Reported properties: each a Property; a writable one as an acknowledgement {value, ac, av, ad}. */
export function reportedProblems(model: PnpModel, reported: Record<string, unknown>): string[] {
    return Object.entries(reported)
        .filter(([name]) => !name.startsWith("$"))
        .flatMap(([name, value]) => {
            const c = model.contents[name]
            if (c?.entityKind !== "property") return [`reported ${name}: not a Property of ${model.id}`]
            if (!c.writable) return schemaProblems(c.schema!, value, `reported ${name}`)
            const ack = value as Record<string, unknown>
            const problems = schemaProblems(c.schema!, ack?.value, `reported ${name}.value`)
            if (!Number.isInteger(ack?.ac) || !Number.isInteger(ack?.av)) problems.push(`reported ${name}: ac and av must be integers`)
            if (ack?.ad !== undefined && typeof ack.ad !== "string") problems.push(`reported ${name}: ad must be a string`)
            return problems
        })
}
