// Reads several settings in one round: every GET goes out at once, the answers are
// collected as they come. The runtime's readSetting() waits for each answer before
// asking the next, and each answer takes a trip through the packet queue (on a board
// too), so a dozen reads cost a dozen trips.
import { settings } from "@devicescript/settings"
import { Wake } from "../wake"

/** Questions without an answer this long are asked again (a full packet queue may drop them). */
const RESEND_MS = 500

/** A read started ahead of need (settingsReadAhead), for the one call with the same key list; values null until answered. */
let ahead: { keys: string[]; values: any[]; done: Wake } = null

/**
 * Starts reading `keys` now, for the next settingsReadMany of this same array, which takes the
 * answers instead of asking (once; later calls ask again). The runtime throttles the program's
 * jacdac sends to one per 20 ms after a burst of five, on a board too, except sends that were
 * waiting for their role to bind: asked at boot, with the first round, these go out at once; asked
 * later, they queue behind boot's round (about 200 ms).
 */
export function settingsReadAhead(keys: string[]) {
    const a = { keys, values: null as any[], done: new Wake() }
    ahead = a
    const read = async () => {
        a.values = await readNow(keys)
        a.done.notify()
    }
    read.start()
}

/** The settings' values (parsed JSON), in the order of `keys`; `undefined` for absent or unreadable ones. */
export async function settingsReadMany(keys: string[]): Promise<any[]> {
    const a = ahead
    if (a === null || a.keys !== keys) return await readNow(keys)
    ahead = null
    while (a.values === null) await a.done.wait(RESEND_MS)
    return a.values
}

async function readNow(keys: string[]): Promise<any[]> {
    const getCode = settings.spec.lookup("get").code
    const values: any[] = []
    const answered: boolean[] = []
    let left = keys.length
    const wake = new Wake()
    const unsubscribe = settings.report().subscribe((pkt) => {
        if (pkt.serviceCommand !== getCode) return
        const [key, raw] = pkt.decode()
        const i = keys.indexOf(key)
        if (i < 0 || answered[i]) return
        answered[i] = true
        values[i] = settingsDecode(raw)
        if (--left === 0) wake.notify()
    })
    try {
        while (left > 0) {
            for (let i = 0; i < keys.length; i++) if (!answered[i]) ask(keys[i])
            if (left > 0) await wake.wait(RESEND_MS)
        }
    } finally {
        unsubscribe()
    }
    return values
}

/** Sends one GET from a fiber of its own: a send waits for the VM's next tick, and these need not wait in turn. */
function ask(key: string) {
    const send = async () => {
        await settings.get(key)
    }
    send.start()
}

/** A stored value as readSetting() reads it: JSON, or undefined when empty or not JSON. */
function settingsDecode(raw: Buffer): any {
    if (!raw || raw.length === 0) return undefined
    try {
        return JSON.parse(raw.toString())
    } catch (e) {
        return undefined
    }
}
