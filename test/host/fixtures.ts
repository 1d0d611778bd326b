// Builds the DeviceScript programs of test/device-fixtures once (skipped while up to date).
import { buildFirmware } from "../../sim/host/build"
import { fixture } from "../builds"

export async function buildFixture(name: string): Promise<string> {
    const { entry, image } = fixture(name)
    return (await buildFirmware(entry, image)).outFile
}
