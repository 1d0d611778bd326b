// In-VM: settings read in rounds, a read started ahead of need handed out once, and the DPS
// assignment kept in the background without a read or a forget ever overtaking it.
import { describe, expect, test } from "@devicescript/test"
import { deleteSetting, writeSetting } from "@devicescript/settings"
import { yieldBetweenTests } from "./vm-yield"
import { settingsReadAhead, settingsReadMany } from "../../src/store/settings-read"
import { storeForgetAssignment, storeLastSaveKept, storeLoadAssignment, storeReadAhead, storeSaveAssignment } from "../../src/store/assignment-store"

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

describe("the stored assignment", () => {
    yieldBetweenTests()
    const owner = "0ne00000001/dev-a"

    test("a save returns at once; a load right after it sees the whole assignment", async () => {
        await storeForgetAssignment()
        expect(storeSaveAssignment(owner, { assignedHub: "hub-1.azure-devices.net", deviceId: "dev-a" })).toBe(true)
        const a = await storeLoadAssignment(owner)
        expect(a.assignedHub).toBe("hub-1.azure-devices.net")
        expect(a.deviceId).toBe("dev-a")
    })

    test("saves in a row: the last one is what a load sees", async () => {
        storeSaveAssignment(owner, { assignedHub: "hub-1.azure-devices.net", deviceId: "dev-a" })
        storeSaveAssignment(owner, { assignedHub: "hub-2.azure-devices.net", deviceId: "dev-b" })
        const a = await storeLoadAssignment(owner)
        expect(a.assignedHub).toBe("hub-2.azure-devices.net")
        expect(a.deviceId).toBe("dev-b")
    })

    test("a forget right after a save leaves nothing behind", async () => {
        storeSaveAssignment(owner, { assignedHub: "hub-1.azure-devices.net", deviceId: "dev-a" })
        await storeForgetAssignment()
        expect(await storeLoadAssignment(owner)).toBe(null)
        const [hub, dev, own] = await settingsReadMany(["ASG_HUB", "ASG_DEVICE", "ASG_OWNER"])
        expect(hub).toBe(undefined)
        expect(dev).toBe(undefined)
        expect(own).toBe(undefined)
    })

    test("a record without its owner (a save cut short) is not taken for an assignment", async () => {
        storeSaveAssignment(owner, { assignedHub: "hub-1.azure-devices.net", deviceId: "dev-a" })
        await storeLoadAssignment(owner)
        // As a power cut after the first two writes of a save leaves it: the owner is deleted first.
        await deleteSetting("ASG_OWNER")
        await writeSetting("ASG_HUB", "hub-3.azure-devices.net")
        expect(await storeLoadAssignment(owner)).toBe(null)
    })

    test("a read ahead left unused (REPROVISION) neither spoils the save's read-back nor a later load", async () => {
        await storeForgetAssignment()
        // Boot asks ahead; with REPROVISION nothing takes the answers (nothing stored) before the save.
        storeReadAhead()
        storeSaveAssignment(owner, { assignedHub: "hub-4.azure-devices.net", deviceId: "dev-d" })
        expect(await storeLastSaveKept()).toBe(true)
        const a = await storeLoadAssignment(owner)
        expect(a.assignedHub).toBe("hub-4.azure-devices.net")
    })
})
