// The DPS assignment kept in the settings store so a reboot skips DPS.
// Each value is a small separate key: the runtime writes an oversized value
// without complaint and then crashes when reading it back (a boot loop).
import { deleteSetting, writeSetting } from "@devicescript/settings"
import { Wake } from "../wake"
import { settingsReadAhead, settingsReadMany } from "./settings-read"

export interface StoredAssignment {
    assignedHub: string
    deviceId: string
}

const KEY_HUB = "ASG_HUB"
const KEY_DEVICE = "ASG_DEVICE"
/** Which ID scope / registration id the assignment belongs to. */
const KEY_OWNER = "ASG_OWNER"
/** Key + JSON value must stay well below the store's ~230-byte record. */
export const STORE_MAX_VALUE = 160

/** Host names and ids only: anything else means the record is damaged. */
export function storeIsPlausibleValue(v: any): boolean {
    if (typeof v !== "string" || v.length === 0 || v.length > STORE_MAX_VALUE) return false
    for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i)
        if (c <= 32 || c >= 127 || c === 34 || c === 92) return false
    }
    return true
}

export function storeOwnerOf(idScope: string, registrationId: string): string {
    return idScope + "/" + registrationId
}

/** A save of the assignment: its writes go out from a fiber of their own. */
interface Save {
    finished: boolean
    /** Whether the values read back as written. */
    kept: boolean
    wake: Wake
}

/** The latest save; each save writes only after the one before it has finished. */
let lastSave: Save = null

/** Returns once `save` (and so every save before it) has written its last value. */
async function saveSettled(save: Save) {
    while (save !== null && !save.finished) await save.wake.wait(1000)
}

async function clear() {
    await saveSettled(lastSave)
    await deleteSetting(KEY_HUB)
    await deleteSetting(KEY_DEVICE)
    await deleteSetting(KEY_OWNER)
}

const KEYS = [KEY_HUB, KEY_DEVICE, KEY_OWNER]

/** Boot's read ahead of KEYS, until a load or a save takes it. */
let readAheadUnused = false

/** Asks for the stored assignment with boot's first settings round (see settingsReadAhead); the first storeLoadAssignment takes it. */
export function storeReadAhead() {
    settingsReadAhead(KEYS)
    readAheadUnused = true
}

/** The stored assignment for this owner, or null (absent, for another owner, or damaged — then wiped). */
export async function storeLoadAssignment(owner: string): Promise<StoredAssignment> {
    await saveSettled(lastSave)
    readAheadUnused = false
    const [hub, dev, own] = await settingsReadMany(KEYS)
    if (hub === undefined && dev === undefined && own === undefined) return null
    if (!storeIsPlausibleValue(hub) || !storeIsPlausibleValue(dev) || own !== owner) {
        console.log("store: stored assignment unusable, provisioning again")
        await clear()
        return null
    }
    return { assignedHub: hub, deviceId: dev }
}

/**
 * Starts writing the assignment and returns at once; false (and stores nothing) when a value would not
 * fit the store safely. Settings writes are Jacdac packets, and the runtime paces the program's packets
 * at one per 20 ms, so boot's dozen settings reads leave the next packet waiting about 250 ms (on a
 * board too): the hub connection need not wait for that. A power cut before "store: assignment kept"
 * (logged once the values read back) costs one more DPS registration at the next boot: the owner is
 * deleted first and written last, so a half-written record never passes for a whole one.
 */
export function storeSaveAssignment(owner: string, a: StoredAssignment): boolean {
    if (!storeIsPlausibleValue(a.assignedHub) || !storeIsPlausibleValue(a.deviceId) || owner.length > STORE_MAX_VALUE) {
        console.log("store: assignment too large to persist; DPS will run on every boot")
        return false
    }
    // Answers read ahead before this save would be stale for any read after it (REPROVISION leaves them unused).
    const dropReadAhead = readAheadUnused
    readAheadUnused = false
    const before = lastSave
    const save: Save = { finished: false, kept: false, wake: new Wake() }
    lastSave = save
    const write = async () => {
        try {
            await saveSettled(before)
            if (dropReadAhead) await settingsReadMany(KEYS)
            await deleteSetting(KEY_OWNER)
            await writeSetting(KEY_HUB, a.assignedHub)
            await writeSetting(KEY_DEVICE, a.deviceId)
            await writeSetting(KEY_OWNER, owner)
            // A write is a packet to the settings service; its answer to a read after it says the writes are in flash.
            const [hub, dev, own] = await settingsReadMany(KEYS)
            save.kept = hub === a.assignedHub && dev === a.deviceId && own === owner
            console.log(save.kept ? "store: assignment kept" : "store: assignment did not read back; DPS runs again at the next boot")
        } catch (e) {
            // Uncaught, an error in a fiber of its own would stop the VM; unsaved, DPS runs at the next boot.
            console.log("store: assignment not kept: " + (e as Error).message)
        } finally {
            save.finished = true
            save.wake.notify()
        }
    }
    write.start()
    return true
}

/** Whether the latest save read back as written, once it has finished (false when there was none). */
export async function storeLastSaveKept(): Promise<boolean> {
    await saveSettled(lastSave)
    return lastSave !== null && lastSave.kept
}

export async function storeForgetAssignment() {
    await clear()
}
