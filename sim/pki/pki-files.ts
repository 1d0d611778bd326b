// Reading and checking PKI files on disk, shared by the emulator's and the edge's PKIs:
// a certificate is reused only while it is valid, matches its key and was signed by its issuer.
import * as fs from "fs"
import { createPrivateKey, createPublicKey, webcrypto } from "crypto"
import "reflect-metadata"
import * as x509 from "@peculiar/x509"
import { CertifiedKey } from "./certificates"

// Reissue a little before expiry so a long test run never meets an expired certificate.
const RENEW_MARGIN_MS = 24 * 3600 * 1000

export function readText(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8")
    } catch {
        return undefined
    }
}

export function writeAtomically(file: string, text: string, mode: number) {
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, text, { mode })
    fs.renameSync(tmp, file)
}

export function firstCert(pem: string): x509.X509Certificate {
    return new x509.X509Certificate(x509.PemConverter.decodeFirst(pem))
}

/** The key pair behind a PKCS#8 PEM, as WebCrypto keys for signing. */
async function importKeyPair(pem: string): Promise<CryptoKeyPair> {
    const priv = createPrivateKey(pem)
    const alg = priv.asymmetricKeyType === "ec" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
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

/** The DNS names and IP addresses in a certificate's SAN. */
export function sanNames(cert: x509.X509Certificate): string[] {
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
    return san ? san.names.items.map((n) => n.value) : []
}

/**
 * The certificate and key in these files, if both are there, match, are valid for a while yet and
 * (with an issuer) were signed by it; undefined means "issue a new one".
 */
export async function loadCertifiedKey(certFile: string, keyFile: string, issuer?: CertifiedKey): Promise<CertifiedKey | undefined> {
    const certPem = readText(certFile)
    const keyPem = readText(keyFile)
    if (!certPem || !keyPem) return undefined
    try {
        const cert = firstCert(certPem)
        if (!usable(cert) || !keyMatches(cert, keyPem)) return undefined
        if (issuer && !(await cert.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true }))) return undefined
        return { cert, keys: await importKeyPair(keyPem), issuers: issuer ? [issuer.cert, ...issuer.issuers] : [] }
    } catch {
        return undefined
    }
}
