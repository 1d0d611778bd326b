// Shared by the X.509 tests: certificates made in-test (EC P-256) as Node sees them, and the
// chain + key a device presents in its TLS handshake.
import { X509Certificate } from "crypto"
import { CertifiedKey, certToPem, generateKeyPair, privateKeyToPem, signingAlgorithmFor } from "../../sim/pki/certificates"
// After the PKI module, which loads the reflect-metadata polyfill @peculiar/x509 needs.
import * as x509 from "@peculiar/x509"
import { ClientCert } from "../support/raw-mqtt-client"

export const DAY_MS = 24 * 3600 * 1000

export function nodeCert(ck: CertifiedKey): X509Certificate {
    return new X509Certificate(Buffer.from(ck.cert.rawData))
}

export function pem(ck: CertifiedKey): string {
    return certToPem(ck.cert)
}

/** The device's TLS identity: its certificate, then `intermediates` of its issuers (0: the leaf alone), and its key. */
export async function clientCert(ck: CertifiedKey, intermediates = 0): Promise<ClientCert> {
    const chain = [ck.cert, ...ck.issuers.slice(0, intermediates)]
    return { cert: chain.map(certToPem).join(""), key: await privateKeyToPem(ck.keys) }
}

/** A validity period that ended yesterday. */
export function expired(): { notBefore: Date; notAfter: Date } {
    return { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }
}

/** A self-signed certificate whose subject has no CN (the test PKI always writes one). */
export async function withoutCommonName(): Promise<X509Certificate> {
    const keys = await generateKeyPair()
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
        name: "O=No Common Name",
        keys,
        signingAlgorithm: signingAlgorithmFor(keys.privateKey),
    })
    return new X509Certificate(Buffer.from(cert.rawData))
}
