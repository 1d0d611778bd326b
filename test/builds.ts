// Every DeviceScript program the tests run, and where its bytecode goes. `npm test` builds them all once, one after
// another, before mocha starts (the compiler writes one output file, so builds are serialized anyway): test files
// then run in parallel without waiting on each other's builds. A new in-VM suite is found by its file name.
import * as fs from "fs"
import * as path from "path"
import { buildFirmware } from "../sim/host/build"
import { FIRMWARE_ENTRY, FIRMWARE_IMAGE, ROOT, SIMULATED_BOARDS } from "../sim/paths"

const SUITES_DIR = path.join(ROOT, "test", "device")
const FIXTURES_DIR = path.join(ROOT, "test", "device-fixtures")
const SUITE_SUFFIX = ".test-device.ts"
/** Suites that need a scripted peer run from their own test file (test/firmware/<name>.test.ts), not on their own. */
export const PEER_SUITES = ["mqtt-client"]

export interface Program {
    entry: string
    image: string
}

export function deviceSuite(name: string): Program {
    return { entry: path.join(SUITES_DIR, `${name}${SUITE_SUFFIX}`), image: path.join(ROOT, "build", "tests", `${name}.devs`) }
}

/** The in-VM suites under test/device, by name. */
export function deviceSuiteNames(): string[] {
    return fs
        .readdirSync(SUITES_DIR)
        .filter((f) => f.endsWith(SUITE_SUFFIX))
        .map((f) => f.slice(0, -SUITE_SUFFIX.length))
        .sort()
}

export function fixture(name: string): Program {
    return { entry: path.join(FIXTURES_DIR, `${name}.ts`), image: path.join(ROOT, "build", "fixtures", `${name}.devs`) }
}

function allPrograms(): Program[] {
    return [
        { entry: FIRMWARE_ENTRY, image: FIRMWARE_IMAGE },
        ...deviceSuiteNames().map(deviceSuite),
        ...fs
            .readdirSync(FIXTURES_DIR)
            .filter((f) => f.endsWith(".ts"))
            .map((f) => fixture(f.slice(0, -3))),
        ...Object.values(SIMULATED_BOARDS),
    ]
}

if (require.main === module) {
    ;(async () => {
        const t0 = Date.now()
        for (const p of allPrograms()) await buildFirmware(p.entry, p.image)
        console.log(`prebuild: ${allPrograms().length} programs up to date in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    })().catch((e: Error) => {
        console.error(`prebuild: ${e.message}`)
        process.exit(1)
    })
}
