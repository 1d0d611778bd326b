// `npm run bench`: prints figures, asserts nothing; each figure of issue 14's table with its goal.
// Loopback only, bounded in time (under 3 minutes). `npm run bench -- --full` adds the 10,000-device
// row, the board images (devs bundle, ~20 s a board) and the emulator's state figures; those two
// also run alone: `npm run bench:boards`, `npm run bench:state`.
import { benchBytecode } from "./bytecode"
import { benchBoot } from "./boot"
import { benchVmHeap } from "./vm-heap"
import { benchScaling } from "./scaling"
import { benchHub } from "./hub"
import { benchState } from "./state"
import { benchX509 } from "./x509"
import { benchBoards } from "./boards"

async function main() {
    const t0 = performance.now()
    const full = process.argv.includes("--full")
    console.log(`bench: node ${process.version}, ${new Date().toISOString()}`)
    await benchBytecode()
    await benchBoot()
    await benchVmHeap()
    await benchScaling(full)
    await benchHub()
    await benchX509()
    if (full) {
        await benchBoards()
        await benchState()
    }
    console.log(`bench: ${((performance.now() - t0) / 1000).toFixed(0)} s`)
}

main().then(
    () => process.exit(0),
    (e: Error) => {
        console.error(`bench: ${e.message}`)
        process.exit(1)
    }
)
