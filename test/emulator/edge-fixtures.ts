// An emulator with one IoT Edge gateway (its own PKI in a temp dir) in front of a hub, on
// ephemeral ports, with a service key: shared by the edge face and the X.509 leaf tests.
import * as fs from "fs"
import { Emulator, validateConfig } from "../../sim/emulator"
import { writeEdgePki } from "../../sim/pki"
import { ID_SCOPE, randomKey, tempDir, testPki } from "./fixtures"
import { hubDevice } from "./hub-fixtures"

export const HUB = "emu-hub.azure-devices.net"
export const EDGE = "edge-gw-01"

export interface RunningEdge {
    emulator: Emulator
    edgePort: number
    mqttPort: number
    servicePort: number
    serviceKey: string
    edgeCa: string
    hubCa: string
}

/** `devices` (children name `parent: EDGE`) next to the edge device's own identity; `edge`: store and forward settings. */
export async function startEdgeEmulator(devices: object[], edge: object = {}): Promise<RunningEdge> {
    const files = await testPki()
    const edgeFiles = await writeEdgePki(tempDir("edge-pki"), "localhost")
    const serviceKey = randomKey()
    const emulator = new Emulator(
        validateConfig({
            ports: { mqtt: 0, https: 0, service: 0, edge: 0 },
            tls: { cert: files.serverCertFile, key: files.serverKeyFile, ca: files.rootCertFile },
            dps: { idScope: ID_SCOPE },
            hubs: [{ hostName: HUB }],
            devices: [hubDevice(EDGE), ...devices],
            edges: [{ deviceId: EDGE, tls: { cert: edgeFiles.serverCertFile, key: edgeFiles.serverKeyFile } }],
            edge,
            service: { primaryKey: serviceKey },
            sasSkewSec: 0,
        })
    )
    const { mqttPort, servicePort } = await emulator.start()
    return {
        emulator,
        edgePort: emulator.edgePort(EDGE),
        mqttPort,
        servicePort: servicePort!,
        serviceKey,
        edgeCa: fs.readFileSync(edgeFiles.rootCertFile, "utf8"),
        hubCa: fs.readFileSync(files.rootCertFile, "utf8"),
    }
}
