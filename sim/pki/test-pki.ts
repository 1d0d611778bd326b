// The emulator's test PKI on disk: a root CA clients trust and a server certificate for
// localhost/127.0.0.1. Created once, reused while consistent and valid, repaired otherwise.
import * as fs from "fs"
import * as path from "path"
import { CertifiedKey, certToPem, chainToPem, createRootCa, issueServerCert, privateKeyToPem } from "./certificates"
import { loadCertifiedKey, sanNames, writeAtomically } from "./pki-files"

export interface TestPkiFiles {
    rootCertFile: string
    rootKeyFile: string
    serverCertFile: string
    serverKeyFile: string
    /** What this call had to (re)create. */
    generated: "nothing" | "server" | "root and server"
}

export const SERVER_DNS_NAMES = ["localhost"]
export const SERVER_IP_ADDRESSES = ["127.0.0.1"]

export function testPkiPaths(dir: string): Omit<TestPkiFiles, "generated"> {
    return {
        rootCertFile: path.join(dir, "emulator-root.pem"),
        rootKeyFile: path.join(dir, "private", "emulator-root.key"),
        serverCertFile: path.join(dir, "emulator-server.pem"),
        serverKeyFile: path.join(dir, "private", "emulator-server.key"),
    }
}

async function serverIsValid(files: Omit<TestPkiFiles, "generated">, root: CertifiedKey): Promise<boolean> {
    const server = await loadCertifiedKey(files.serverCertFile, files.serverKeyFile, root)
    const names = server ? sanNames(server.cert) : []
    return [...SERVER_DNS_NAMES, ...SERVER_IP_ADDRESSES].every((n) => names.includes(n))
}

/**
 * Ensures `<dir>/emulator-root.pem`, `<dir>/emulator-server.pem` (leaf + chain) and their keys under
 * `<dir>/private/` (0600). Keeps a valid root so images that embed it stay valid; reissues the server
 * certificate when missing, expiring, or not matching its key or the root.
 */
export async function writeTestPki(dir: string): Promise<TestPkiFiles> {
    const files = testPkiPaths(dir)
    fs.mkdirSync(path.dirname(files.rootKeyFile), { recursive: true })
    fs.chmodSync(path.dirname(files.rootKeyFile), 0o700)
    let root = await loadCertifiedKey(files.rootCertFile, files.rootKeyFile)
    let generated: TestPkiFiles["generated"] = "nothing"
    if (!root) {
        root = await createRootCa({ commonName: "Azure IoT DeviceScript Emulator Test Root CA" })
        writeAtomically(files.rootKeyFile, await privateKeyToPem(root.keys), 0o600)
        writeAtomically(files.rootCertFile, certToPem(root.cert), 0o644)
        generated = "root and server"
    } else if (!(await serverIsValid(files, root))) generated = "server"
    if (generated !== "nothing") {
        const server = await issueServerCert(root, {
            commonName: "localhost",
            dnsNames: SERVER_DNS_NAMES,
            ipAddresses: SERVER_IP_ADDRESSES,
        })
        writeAtomically(files.serverKeyFile, await privateKeyToPem(server.keys), 0o600)
        writeAtomically(files.serverCertFile, chainToPem(server), 0o644)
    }
    return { ...files, generated }
}
