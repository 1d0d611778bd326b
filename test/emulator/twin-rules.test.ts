// Device twin documents as plain values: RFC 7386 merge patches, one version per section, and IoT
// Hub's limits at their boundaries (names, 1 KB keys, 4 KB strings, 10 levels, 32 KB per section).
import * as assert from "assert"
import {
    TWIN_SECTION_MAX_BYTES,
    TWIN_TAGS_MAX_BYTES,
    Twin,
    jsonMergePatch,
    twinApplyPatch,
    twinApplyTags,
    twinDocument,
    twinNew,
    twinParsePatch,
} from "../../sim/emulator/state/twin"

function applied(twin: Twin, section: "desired" | "reported", patch: unknown): Twin {
    const r = twinApplyPatch(twin, section, patch)
    assert.ok(r.ok, JSON.stringify(r))
    return r.twin
}

function refusal(patch: unknown, twin = twinNew()): { status: number; errorCode: number; message: string } {
    const r = twinApplyPatch(twin, "reported", patch)
    assert.ok(!r.ok, "the patch was accepted")
    return r
}

describe("twin rules", () => {
    it("merges as RFC 7386 says: objects recursively, null deletes, anything else replaces", () => {
        assert.deepStrictEqual(jsonMergePatch({ a: "b", c: { d: "e", f: "g" } }, { a: "z", c: { f: null } }), { a: "z", c: { d: "e" } })
        assert.deepStrictEqual(jsonMergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] })
        assert.deepStrictEqual(jsonMergePatch({ a: { b: 1 } }, { a: 5 }), { a: 5 })
        assert.deepStrictEqual(jsonMergePatch([1], { a: { b: null } }), { a: {} })
        assert.deepStrictEqual(jsonMergePatch({ a: 1 }, "s"), "s")
        const target = { a: { b: 1 } }
        jsonMergePatch(target, { a: { b: 2 } })
        assert.deepStrictEqual(target, { a: { b: 1 } }, "the target is not changed in place")
    })

    it("starts both sections at version 1 and counts each section's patches separately", () => {
        let t = twinNew()
        assert.deepStrictEqual(twinDocument(t), { desired: { $version: 1 }, reported: { $version: 1 } })
        t = applied(t, "reported", { fw: "1.0", $version: 99 })
        t = applied(t, "reported", { fw: null, ok: true })
        const r = twinApplyPatch(t, "desired", { interval: 5 })
        assert.ok(r.ok)
        assert.strictEqual(r.version, 2)
        assert.deepStrictEqual(twinDocument(r.twin), { desired: { interval: 5, $version: 2 }, reported: { ok: true, $version: 3 } })
        assert.deepStrictEqual(twinDocument(t).desired, { $version: 1 }, "the twin patched is not changed in place")
    })

    it("refuses a patch that is not an object, and bad property names anywhere", () => {
        for (const p of [null, [1], "x", 3]) assert.deepStrictEqual({ ...refusal(p), message: "" }, { ok: false, status: 400, errorCode: 400004, message: "" })
        for (const name of ["a.b", "a$", "a b", "a\u0000", "\u001f", "a\u007f", "\u009f"]) {
            assert.strictEqual(refusal({ [name]: 1 }).errorCode, 400004, JSON.stringify(name))
            assert.strictEqual(refusal({ x: { y: [{ [name]: 1 }] } }).errorCode, 400004, JSON.stringify(name))
        }
        for (const name of ["a-b_c", "ü", "\u00a0", "a#"]) applied(twinNew(), "reported", { [name]: 1 })
        // Every child is checked, not only the first.
        assert.strictEqual(refusal({ a: 1, b: { "x.y": 1 } }).errorCode, 400004)
    })

    it("takes names up to 1 KB and strings up to 4 KB, in bytes", () => {
        applied(twinNew(), "reported", { ["k".repeat(1024)]: "v".repeat(4096) })
        assert.match(refusal({ ["k".repeat(1025)]: 1 }).message, /1 KB/)
        assert.match(refusal({ ["é".repeat(513)]: 1 }).message, /1 KB/)
        assert.match(refusal({ a: "v".repeat(4097) }).message, /4096 bytes/)
        assert.match(refusal({ a: ["é".repeat(2049)] }).message, /4096 bytes/)
    })

    it("takes ten levels of nesting below the section, not eleven", () => {
        const nest = (levels: number): unknown => (levels === 0 ? 1 : { n: nest(levels - 1) })
        applied(twinNew(), "reported", { a: nest(10) })
        assert.match(refusal({ a: nest(11) }).message, /deeper than 10/)
        assert.match(refusal({ a: [nest(10)] }).message, /deeper than 10/)
    })

    it("refuses with 413 a section that would exceed 32 KB, counting what is already there", () => {
        // Eight keys k0..k7 whose section serialises to exactly `bytes`.
        const section = (bytes: number): Record<string, string> => {
            const strings = bytes - (2 + 7 * 8 + 7)
            const out: Record<string, string> = {}
            for (let i = 0; i < 8; i++) out[`k${i}`] = "x".repeat(i < 7 ? 4096 : strings - 7 * 4096)
            return out
        }
        const full = section(TWIN_SECTION_MAX_BYTES)
        assert.strictEqual(JSON.stringify(full).length, TWIN_SECTION_MAX_BYTES)
        const t = applied(twinNew(), "reported", full)
        const over = refusal({ k7: full.k7 + "x" }, t)
        assert.deepStrictEqual({ status: over.status, errorCode: over.errorCode }, { status: 413, errorCode: 413002 })
        // The same patch fits once a property is deleted in it.
        applied(t, "reported", { k7: full.k7 + "x", k0: null })
    })

    it("merges tags as the service sets them, with the properties' name rules and an 8 KB bound of their own", () => {
        const t0 = twinNew()
        const ok = twinApplyTags(t0, { site: "lab", floor: { n: 2 } })
        assert.ok(ok.ok)
        assert.deepStrictEqual([ok.twin.tags, ok.version], [{ site: "lab", floor: { n: 2 } }, 1])
        const removed = twinApplyTags(ok.twin, { floor: null })
        assert.ok(removed.ok)
        assert.deepStrictEqual([removed.twin.tags, removed.version], [{ site: "lab" }, 2])
        for (const bad of [null, [1], "x", 3]) {
            const r = twinApplyTags(t0, bad)
            assert.ok(!r.ok && r.status === 400 && r.errorCode === 400004, `tags ${JSON.stringify(bad)} refused`)
        }
        const badName = twinApplyTags(t0, { "a.b": 1 })
        assert.ok(!badName.ok && badName.status === 400 && badName.errorCode === 400004 && /a\.b/.test(badName.message))
        const half = "x".repeat(TWIN_TAGS_MAX_BYTES / 2)
        const first = twinApplyTags(t0, { a: half.slice(0, 4000) })
        assert.ok(first.ok)
        const over = twinApplyTags(first.twin, { b: half.slice(0, 4000), c: "y".repeat(200) })
        assert.ok(!over.ok && over.status === 413 && over.errorCode === 413002, "what is there already counts")
        assert.deepStrictEqual(first.twin.tags, { a: half.slice(0, 4000) }, "a refused patch changes nothing")
        // {"a":"…","b":"…"} of exactly 8 KB fits, one byte more does not (a string holds at most 4 KB).
        const exact = (extra: number) => ({ a: "x".repeat(4096), b: "y".repeat(TWIN_TAGS_MAX_BYTES - 15 - 4096 + extra) })
        assert.strictEqual(JSON.stringify(exact(0)).length, TWIN_TAGS_MAX_BYTES)
        assert.ok(twinApplyTags(t0, exact(0)).ok)
        assert.strictEqual(twinApplyTags(t0, exact(1)).ok, false)
    })

    it("reads a device's patch body as JSON, or nothing", () => {
        assert.deepStrictEqual(twinParsePatch(Buffer.from('{"a":1}')), { a: 1 })
        assert.strictEqual(twinParsePatch(Buffer.from("{not json")), undefined)
        assert.strictEqual(twinParsePatch(Buffer.from("null")), null)
    })
})
