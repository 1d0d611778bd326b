// An emulator with one IoT Edge gateway (its own PKI in a temp dir) in front of a hub, on
// ephemeral ports, with a service key: shared by the edge face and the X.509 leaf tests.
import * as fs from "fs"
import { EmulatorConfigInput } from "../../sim/emulator"
import { RunningEmulator, startTestEmulator, testGateway } from "../support/emulator"
import { hubDevice } from "./hub-fixtures"

export const HUB = "emu-hub.azure-devices.net"
export const EDGE = "edge-gw-01"

export interface RunningEdge extends RunningEmulator {
    edgePort: number
    /** The edge PKI's root (PEM), which leaves trust. */
    edgeCa: string
}

/** `devices` (children name `parent: EDGE`) next to the edge device's own identity; `edge`: store and forward settings. */
export async function startEdgeEmulator(devices: EmulatorConfigInput["devices"] = [], edge: EmulatorConfigInput["edge"] = {}): Promise<RunningEdge> {
    const { gateway, pki } = await testGateway(EDGE)
    const emu = await startTestEmulator({ hubs: [{ hostName: HUB }], devices: [hubDevice(EDGE), ...devices], edges: [gateway], edge, sasSkewSec: 0 })
    return { ...emu, edgePort: emu.edgePorts[0], edgeCa: fs.readFileSync(pki.rootCertFile, "utf8") }
}
