// In-VM: settings read in rounds, and a read started ahead of need handed out once.
import { describe, expect, test } from "@devicescript/test"
import { deleteSetting, writeSetting } from "@devicescript/settings"
import { yieldBetweenTests } from "./vm-yield"
import { settingsReadAhead, settingsReadMany } from "../../src/store/settings-read"

describe("settings reads", () => {
    yieldBetweenTests()

    test("reads several keys in one round, absent ones undefined", async () => {
        await writeSetting("T_A", "one")
        await writeSetting("T_B", 2)
        await deleteSetting("T_C")
        const [a, b, c] = await settingsReadMany(["T_A", "T_B", "T_C"])
        expect(a).toBe("one")
        expect(b).toBe(2)
        expect(c).toBe(undefined)
    })

    test("a read ahead serves the next read of the same keys only, once", async () => {
        const keys = ["T_D"]
        await writeSetting("T_D", "before")
        settingsReadAhead(keys)
        // Another list with the same key asks the device: the read ahead stays for `keys`.
        expect((await settingsReadMany(["T_D"]))[0]).toBe("before")
        await writeSetting("T_D", "after")
        // Answered before the write: what was read ahead.
        expect((await settingsReadMany(keys))[0]).toBe("before")
        // Handed out once: the next read asks again and sees the write.
        expect((await settingsReadMany(keys))[0]).toBe("after")
    })
})
