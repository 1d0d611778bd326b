// Prints to the console, echoes the settings the host deployed, and counts boots in a setting it writes itself.
import * as ds from "@devicescript/core"
import { readSetting, writeSetting } from "@devicescript/settings"

console.log("fixture: first line")
await ds.sleep(20)
const text = await readSetting<string>("TEXT", "(missing)")
const count = await readSetting<number>("COUNT", -1)
const flag = await readSetting<boolean>("FLAG", false)
console.log(`fixture: TEXT=[${text}] COUNT+1=${count + 1} FLAG=${flag}`)
const boots = await readSetting<number>("BOOTS", 0)
await writeSetting("BOOTS", boots + 1)
// writeSetting does not wait for the store; reading back does, so the number printed is in flash.
console.log(`fixture: boot number ${await readSetting<number>("BOOTS")}`)
