// Board figures: the program's bytecode (the same for every board) and the simulated board's, and per
// board the image `npm run build:board` makes — configuration bytes used of the 8 KB partition and
// storage bytes used — from a stand-in runtime image (the real runtime's own size is not known offline).
import * as fs from "fs"
import * as path from "path"
import { buildFirmware } from "../sim/host/build"
import { ESP32_CONFIG_OFFSET } from "../sim/host/image-config"
import { BOARDS_DIR, CONFIG_PARTITION_BYTES, buildBoardImage } from "../sim/board-image"
import { AZURE_ROOT_CAS, FIRMWARE_ENTRY, FIRMWARE_IMAGE, SIMULATED_BOARDS } from "../sim/paths"
import { tempDir } from "../test/support/emulator"
import { fmt, row } from "./stats"

/** esp32c3 / esp32s3 arch data of the pinned CLI: where the storage area starts. */
const FSTOR_OFFSET = 0x1c0000

export async function benchBoards() {
    console.log("boards")
    row("firmware bytecode (every board)", `${(await buildFirmware(FIRMWARE_ENTRY, FIRMWARE_IMAGE)).bytes} bytes`)
    for (const [id, sim] of Object.entries(SIMULATED_BOARDS))
        row(`simulated ${id} bytecode (+ part models)`, `${(await buildFirmware(sim.entry, sim.image)).bytes} bytes`)
    const dir = tempDir("bench-boards")
    const runtime = path.join(dir, "stand-in-runtime.bin")
    fs.writeFileSync(runtime, Buffer.alloc(0x10000, 0xff))
    for (const file of fs
        .readdirSync(BOARDS_DIR)
        .filter((f) => f.endsWith(".board.json"))
        .sort()) {
        const board = file.replace(".board.json", "")
        const t0 = performance.now()
        const { outFile, bytes } = await buildBoardImage({
            board,
            trustAnchorFiles: AZURE_ROOT_CAS,
            runtimeImage: runtime,
            outFile: path.join(dir, `${board}-0x0.bin`),
        })
        const ms = performance.now() - t0
        const config = fs.readFileSync(outFile).readUInt32LE(ESP32_CONFIG_OFFSET + 8)
        row(`${board}: configuration (board + 2 Azure roots)`, `${config} of ${CONFIG_PARTITION_BYTES} bytes`)
        row(`${board}: storage used (program + settings)`, `${bytes - FSTOR_OFFSET} bytes`)
        row(`${board}: image file, stand-in runtime (devs bundle ${fmt(ms / 1000)} s)`, `${bytes} bytes`)
    }
}

if (require.main === module)
    benchBoards().then(
        () => process.exit(0),
        (e: Error) => {
            console.error(`bench: ${e.message}`)
            process.exit(1)
        }
    )
