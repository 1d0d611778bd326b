// The emulator's test PKI on disk: a root CA clients trust and a server certificate for
// localhost/127.0.0.1. Created once, reused while consistent and valid, repaired otherwise.
import * as fs from "fs"
import * as path from "path"
import { createPrivateKey, createPublicKey, webcrypto } from "crypto"
import "reflect-metadata"
import * as x509 from "@peculiar/x509"
import { CertifiedKey, certToPem, chainToPem, createRootCa, issueServerCert, privateKeyToPem } from "./certificates"

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
// Reissue a little before expiry so a long test run never meets an expired certificate.
const RENEW_MARGIN_MS = 24 * 3600 * 1000

export function testPkiPaths(dir: string): Omit<TestPkiFiles, "generated"> {
    return {
        rootCertFile: path.join(dir, "emulator-root.pem"),
        rootKeyFile: path.join(dir, "private", "emulator-root.key"),
        serverCertFile: path.join(dir, "emulator-server.pem"),
        serverKeyFile: path.join(dir, "private", "emulator-server.key"),
    }
}

function readText(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8")
    } catch {
        return undefined
    }
}

function writeAtomically(file: string, text: string, mode: number) {
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, text, { mode })
    fs.renameSync(tmp, file)
}

function firstCert(pem: string): x509.X509Certificate {
    return new x509.X509Certificate(x509.PemConverter.decodeFirst(pem))
}

/** The key pair behind a PKCS#8 PEM, as WebCrypto keys for signing. */
async function importKeyPair(pem: string): Promise<CryptoKeyPair> {
    const priv = createPrivateKey(pem)
    const alg =
        priv.asymmetricKeyType === "ec"
            ? { name: "ECDSA", namedCurve: "P-256" }
            : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    const pkcs8 = priv.export({ type: "pkcs8", format: "der" })
    const spki = createPublicKey(priv).export({ type: "spki", format: "der" })
    return {
        privateKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]),
        publicKey: await webcrypto.subtle.importKey("spki", spki, alg, true, ["verify"]),
    }
}

function keyMatches(cert: x509.X509Certificate, keyPem: string): boolean {
    const spki = createPublicKey(keyPem).export({ type: "spki", format: "der" })
    return Buffer.from(cert.publicKey.rawData).equals(spki)
}

function usable(cert: x509.X509Certificate): boolean {
    const now = Date.now()
    return cert.notBefore.getTime() <= now && cert.notAfter.getTime() > now + RENEW_MARGIN_MS
}

async function loadRoot(files: Omit<TestPkiFiles, "generated">): Promise<CertifiedKey | undefined> {
    const certPem = readText(files.rootCertFile)
    const keyPem = readText(files.rootKeyFile)
    if (!certPem || !keyPem) return undefined
    try {
        const cert = firstCert(certPem)
        if (!usable(cert) || !keyMatches(cert, keyPem)) return undefined
        return { cert, keys: await importKeyPair(keyPem), issuers: [] }
    } catch {
        return undefined
    }
}

async function serverIsValid(files: Omit<TestPkiFiles, "generated">, root: CertifiedKey): Promise<boolean> {
    const certPem = readText(files.serverCertFile)
    const keyPem = readText(files.serverKeyFile)
    if (!certPem || !keyPem) return false
    try {
        const cert = firstCert(certPem)
        const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
        const names = san ? san.names.items.map((n) => n.value) : []
        const hasNames = [...SERVER_DNS_NAMES, ...SERVER_IP_ADDRESSES].every((n) => names.includes(n))
        const signedByRoot = await cert.verify({ publicKey: root.cert.publicKey, signatureOnly: true })
        return hasNames && signedByRoot && usable(cert) && keyMatches(cert, keyPem)
    } catch {
        return false
    }
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
    let root = await loadRoot(files)
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
