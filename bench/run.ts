// `npm run bench`: prints figures, asserts nothing. Loopback only, bounded in time.
import { benchProvisioning } from "./provisioning"
import { benchHub } from "./hub"
import { benchState } from "./state"
import { benchX509 } from "./x509"
import { benchBoards } from "./boards"

async function main() {
    console.log(`bench: node ${process.version}, ${new Date().toISOString()}`)
    await benchHub()
    await benchProvisioning()
    await benchX509()
    await benchBoards()
    await benchState()
}

main().then(
    () => process.exit(0),
    (e: Error) => {
        console.error(`bench: ${e.message}`)
        process.exit(1)
    }
)
