// `npm run bench`: prints figures, asserts nothing; each figure of issue 14's table with its goal.
// Loopback only, bounded in time (under 3 minutes); `npm run bench -- --full` adds the 10,000-device row.
import { benchBytecode } from "./bytecode"
import { benchBoot } from "./boot"
import { benchScaling } from "./scaling"
import { benchHub } from "./hub"
import { benchState } from "./state"
import { benchX509 } from "./x509"
import { benchBoards } from "./boards"

async function main() {
    const t0 = performance.now()
    console.log(`bench: node ${process.version}, ${new Date().toISOString()}`)
    await benchBytecode()
    await benchBoot()
    await benchScaling(process.argv.includes("--full"))
    await benchHub()
    await benchX509()
    await benchBoards()
    await benchState()
    console.log(`bench: ${((performance.now() - t0) / 1000).toFixed(0)} s`)
}

main().then(
    () => process.exit(0),
    (e: Error) => {
        console.error(`bench: ${e.message}`)
        process.exit(1)
    }
)
