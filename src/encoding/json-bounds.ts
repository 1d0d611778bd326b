// Limits checked before JSON.parse. The runtime's parser recurses (a document
// nested a few hundred deep crashes the VM) and every value costs heap, so a
// hostile document is refused by a scan that counts nesting and values first.
// The scan yields every slice, so a large document cannot trip the VM's
// runaway-loop guard either.
import * as ds from "@devicescript/core"

export interface JsonLimits {
    maxBytes: number
    maxDepth: number
    /** Objects, arrays and members/elements together: a bound on the heap the parsed value takes. */
    maxValues: number
}

export interface JsonParsed {
    /** The parsed value; meaningful only when `error` is null. */
    value: any
    /** Why the document was refused, or null. */
    error: string | null
}

/** Bytes scanned between yields (~25 VM instructions each; the guard trips near 50k). */
const SLICE = 512

function refused(why: string): JsonParsed {
    return { value: undefined, error: why }
}

/** A document in a buffer from `payloadStart` on, as a received MqttPublish holds it. */
export interface JsonSource {
    body: Buffer | null
    payloadStart: number
}

/**
 * Parses the document of `src`. Once it passes the limits its bytes are taken (src.body becomes null): the
 * runtime parses only strings, so the bytes are let go as soon as their text is made, and the bytes, the text
 * and the parsed values never share the heap all three.
 */
export async function jsonParseBounded(src: JsonSource, limits: JsonLimits): Promise<JsonParsed> {
    let data = src.body
    const start = src.payloadStart
    const size = data.length - start
    if (size > limits.maxBytes) return refused(size + " bytes, more than " + limits.maxBytes)
    let depth = 0
    let values = 1
    let inString = false
    let escaped = false
    let slice = 0
    for (let i = start; i < data.length; i++) {
        if (++slice === SLICE) {
            slice = 0
            await ds.sleep(0)
        }
        const c = data[i]
        if (inString) {
            if (escaped) escaped = false
            else if (c === 92) escaped = true
            else if (c === 34) inString = false
        } else if (c === 34) inString = true
        else if (c === 123 || c === 91) {
            if (++depth > limits.maxDepth) return refused("nested deeper than " + limits.maxDepth + " levels")
            values++
        } else if (c === 125 || c === 93) depth--
        else if (c === 44) values++
        if (values > limits.maxValues) return refused("more than " + limits.maxValues + " values")
    }
    // What precedes the document becomes spaces, which JSON allows before a value: the text is made from the
    // whole buffer in place, without a copy of the document's bytes first.
    data.fillAt(0, start, 32)
    const text = data.toString("utf-8")
    data = null
    src.body = null
    try {
        return { value: JSON.parse(text), error: null }
    } catch (e) {
        return refused("not valid JSON")
    }
}
