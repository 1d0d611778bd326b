// A @devicescript/test suite that passes, unless the host deploys the setting FAIL=true.
import { describe, expect, test } from "@devicescript/test"
import { readSetting } from "@devicescript/settings"

describe("arithmetic", () => {
    test("adds", () => {
        expect(1 + 1).toBe(2)
    })
    test("fails when told to", async () => {
        const fail = await readSetting<boolean>("FAIL", false)
        expect(1 + 1).toBe(fail ? 3 : 2)
    })
})
