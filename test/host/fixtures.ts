// Builds the DeviceScript programs of test/device-fixtures once (skipped while up to date).
import * as path from "path"
import { buildFirmware } from "../../sim/host/build"
import { ROOT } from "../../sim/paths"

export async function buildFixture(name: string): Promise<string> {
    const entry = path.join(ROOT, "test", "device-fixtures", `${name}.ts`)
    return (await buildFirmware(entry, path.join(ROOT, "build", "fixtures", `${name}.devs`))).outFile
}
