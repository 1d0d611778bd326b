// An IoT Edge gateway's PKI on disk, shaped like IoT Edge's own: a root CA the leaf devices
// trust, the edge CA (device CA) under it, and the edgeHub server certificate it issues with
// CN = the gateway host name and SAN = [that host name, "edgeHub"]. Idempotent like writeTestPki.
import * as fs from "fs"
import * as net from "net"
import * as path from "path"
import { CertifiedKey, certToPem, chainToPem, createRootCa, issueIntermediateCa, issueServerCert, privateKeyToPem } from "./certificates"
import { loadCertifiedKey, sanNames, writeAtomically } from "./pki-files"

export interface EdgePkiFiles {
    rootCertFile: string
    rootKeyFile: string
    edgeCaCertFile: string
    edgeCaKeyFile: string
    /** The edgeHub certificate followed by the edge CA: what the gateway presents. */
    serverCertFile: string
    serverKeyFile: string
    generated: "nothing" | "server" | "edge CA and server" | "root, edge CA and server"
}

/** The name edgeHub's certificate carries besides the gateway host name (modules reach it by it). */
export const EDGE_HUB_NAME = "edgeHub"

export function edgePkiPaths(dir: string): Omit<EdgePkiFiles, "generated"> {
    return {
        rootCertFile: path.join(dir, "edge-root.pem"),
        rootKeyFile: path.join(dir, "private", "edge-root.key"),
        edgeCaCertFile: path.join(dir, "edge-ca.pem"),
        edgeCaKeyFile: path.join(dir, "private", "edge-ca.key"),
        serverCertFile: path.join(dir, "edge-server.pem"),
        serverKeyFile: path.join(dir, "private", "edge-server.key"),
    }
}

async function writeCa(ca: CertifiedKey, certFile: string, keyFile: string): Promise<void> {
    writeAtomically(keyFile, await privateKeyToPem(ca.keys), 0o600)
    writeAtomically(certFile, certToPem(ca.cert), 0o644)
}

/**
 * Ensures the edge PKI for `gatewayHostName` under `dir` (keys in `<dir>/private/`, 0600). A valid
 * root is kept so images that embed it stay valid; what is missing, expiring, mismatched or issued
 * for another host name is reissued, with everything below it.
 */
export async function writeEdgePki(dir: string, gatewayHostName: string): Promise<EdgePkiFiles> {
    const files = edgePkiPaths(dir)
    fs.mkdirSync(path.dirname(files.rootKeyFile), { recursive: true })
    fs.chmodSync(path.dirname(files.rootKeyFile), 0o700)
    let generated: EdgePkiFiles["generated"] = "nothing"
    let root = await loadCertifiedKey(files.rootCertFile, files.rootKeyFile)
    if (!root) {
        root = await createRootCa({ commonName: "Azure IoT DeviceScript Edge Test Root CA" })
        await writeCa(root, files.rootCertFile, files.rootKeyFile)
        generated = "root, edge CA and server"
    }
    let edgeCa = generated === "nothing" ? await loadCertifiedKey(files.edgeCaCertFile, files.edgeCaKeyFile, root) : undefined
    if (!edgeCa) {
        edgeCa = await issueIntermediateCa(root, { commonName: "Azure IoT DeviceScript Edge CA" })
        await writeCa(edgeCa, files.edgeCaCertFile, files.edgeCaKeyFile)
        if (generated === "nothing") generated = "edge CA and server"
    }
    const ip = net.isIP(gatewayHostName) !== 0
    const names = [gatewayHostName, EDGE_HUB_NAME]
    const server = generated === "nothing" ? await loadCertifiedKey(files.serverCertFile, files.serverKeyFile, edgeCa) : undefined
    const current = server && server.cert.subject === `CN=${gatewayHostName}` && names.every((n) => sanNames(server.cert).includes(n))
    if (!current) {
        const issued = await issueServerCert(edgeCa, {
            commonName: gatewayHostName,
            dnsNames: ip ? [EDGE_HUB_NAME] : names,
            ipAddresses: ip ? [gatewayHostName] : [],
        })
        writeAtomically(files.serverKeyFile, await privateKeyToPem(issued.keys), 0o600)
        writeAtomically(files.serverCertFile, chainToPem(issued), 0o644)
        if (generated === "nothing") generated = "server"
    }
    return { ...files, generated }
}
