// Device twins as IoT Hub keeps them: desired and reported sections, each with its own
// `$version`, changed by JSON merge patches (RFC 7386: null deletes) within the hub's limits.
// Plain functions over a Twin value.

export type JsonObject = { [k: string]: unknown }

export interface Twin {
    desired: JsonObject
    desiredVersion: number
    reported: JsonObject
    reportedVersion: number
    /** Set by the service side only (devices never see them); absent in twins kept before tags existed. */
    tags?: JsonObject
    tagsVersion?: number
}

export const TWIN_SECTION_MAX_BYTES = 32 * 1024
/** IoT Hub's device twin guide, "Device twin size": 8 KB for tags, 32 KB each for desired and reported. */
export const TWIN_TAGS_MAX_BYTES = 8 * 1024
/** Objects and arrays nested below the section itself (IoT Hub's "maximum depth of 10", README). */
export const TWIN_MAX_DEPTH = 10
const MAX_KEY_BYTES = 1024
const MAX_STRING_BYTES = 4 * 1024

export type TwinPatchResult = { ok: true; twin: Twin; version: number } | { ok: false; status: number; errorCode: number; message: string }

export function twinNew(): Twin {
    return { desired: {}, desiredVersion: 1, reported: {}, reportedVersion: 1 }
}

/** The document a device GET and a service read both see. */
export function twinDocument(t: Twin): { desired: JsonObject; reported: JsonObject } {
    return { desired: { ...t.desired, $version: t.desiredVersion }, reported: { ...t.reported, $version: t.reportedVersion } }
}

function isObject(v: unknown): v is JsonObject {
    return typeof v === "object" && v !== null && !Array.isArray(v)
}

export function jsonMergePatch(target: unknown, patch: unknown): unknown {
    if (!isObject(patch)) return patch
    const out: JsonObject = isObject(target) ? { ...target } : {}
    for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete out[k]
        else out[k] = jsonMergePatch(out[k], v)
    }
    return out
}

/**
 * Twin property names exclude `.`, `$`, spaces and control characters and are at most 1 KB; string
 * values at most 4 KB; objects and arrays nest at most TWIN_MAX_DEPTH levels below the section
 * (`depth`: the level of `v`, the section being 0). `$version` in a patch is ignored.
 */
function checkValues(v: unknown, depth: number): string | undefined {
    if (typeof v === "string") return Buffer.byteLength(v) > MAX_STRING_BYTES ? `a string value is longer than ${MAX_STRING_BYTES} bytes` : undefined
    if (typeof v !== "object" || v === null) return undefined
    if (depth > TWIN_MAX_DEPTH) return `twin properties nest deeper than ${TWIN_MAX_DEPTH} levels (objects and arrays)`
    const children = Array.isArray(v) ? v : Object.values(v)
    if (!Array.isArray(v))
        for (const k of Object.keys(v)) {
            // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what IoT Hub refuses in names
            if (/[.$ \u0000-\u001f\u007f-\u009f]/.test(k)) return `property name ${JSON.stringify(k)} contains '.', '$', a space or a control character`
            if (Buffer.byteLength(k) > MAX_KEY_BYTES) return "property name longer than 1 KB"
        }
    for (const child of children) {
        const problem = checkValues(child, depth + 1)
        if (problem) return problem
    }
    return undefined
}

/** Applies a patch (already parsed JSON) to one section; the section's version goes up by one. */
export function twinApplyPatch(twin: Twin, section: "desired" | "reported", patch: unknown): TwinPatchResult {
    if (!isObject(patch)) return { ok: false, status: 400, errorCode: 400004, message: "a twin patch must be a JSON object" }
    const { $version: _ignored, ...body } = patch
    const problem = checkValues(body, 0)
    if (problem) return { ok: false, status: 400, errorCode: 400004, message: problem }
    const merged = jsonMergePatch(twin[section], body) as JsonObject
    if (Buffer.byteLength(JSON.stringify(merged)) > TWIN_SECTION_MAX_BYTES)
        return { ok: false, status: 413, errorCode: 413002, message: `${section} properties would exceed ${TWIN_SECTION_MAX_BYTES} bytes` }
    const version = (section === "desired" ? twin.desiredVersion : twin.reportedVersion) + 1
    const next: Twin = section === "desired" ? { ...twin, desired: merged, desiredVersion: version } : { ...twin, reported: merged, reportedVersion: version }
    return { ok: true, twin: next, version }
}

/** Merges a patch into the tags (the service side's part of the twin), within the same rules as properties. */
export function twinApplyTags(twin: Twin, patch: unknown): TwinPatchResult {
    if (!isObject(patch)) return { ok: false, status: 400, errorCode: 400004, message: "tags must be a JSON object" }
    const problem = checkValues(patch, 0)
    if (problem) return { ok: false, status: 400, errorCode: 400004, message: problem }
    const merged = jsonMergePatch(twin.tags ?? {}, patch) as JsonObject
    if (Buffer.byteLength(JSON.stringify(merged)) > TWIN_TAGS_MAX_BYTES)
        return { ok: false, status: 413, errorCode: 413002, message: `tags would exceed ${TWIN_TAGS_MAX_BYTES} bytes` }
    const version = (twin.tagsVersion ?? 0) + 1
    return { ok: true, twin: { ...twin, tags: merged, tagsVersion: version }, version }
}

/** Parses a device's patch body; undefined when it is not JSON. */
export function twinParsePatch(body: Buffer): unknown {
    try {
        return JSON.parse(body.toString("utf8"))
    } catch {
        return undefined
    }
}
