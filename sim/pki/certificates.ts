// Certificate authorities and leaf certificates for local test PKIs: the emulator's TLS, the
// IoT Edge chain and X.509 device identities. Keys never leave the caller's memory except
// through privateKeyToPem.
import { webcrypto } from "crypto"
import "reflect-metadata"
import * as x509 from "@peculiar/x509"

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export type KeyAlgorithm = "ec-p256" | "rsa-2048"

/** A certificate with its key pair and the issuers above it (nearest first, root last; empty for a root). */
export interface CertifiedKey {
    cert: x509.X509Certificate
    keys: CryptoKeyPair
    issuers: x509.X509Certificate[]
}

export interface CertOptions {
    commonName: string
    algorithm?: KeyAlgorithm
    validDays?: number
    /** An explicit validity period (tests of expired or not-yet-valid certificates); overrides validDays. */
    notBefore?: Date
    notAfter?: Date
}

export interface ServerCertOptions extends CertOptions {
    dnsNames?: string[]
    ipAddresses?: string[]
}

const DAY_MS = 24 * 3600 * 1000
// Clocks of simulated devices and CI runners drift; a certificate valid "from now" can look not-yet-valid.
const BACKDATE_MS = 3600 * 1000

function keyGenParams(alg: KeyAlgorithm): EcKeyGenParams | RsaHashedKeyGenParams {
    return alg === "rsa-2048"
        ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
        : { name: "ECDSA", namedCurve: "P-256" }
}

/** The signature algorithm a key of this kind signs with. */
export function signingAlgorithmFor(key: CryptoKey): Algorithm | EcdsaParams {
    return key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" }
}

export async function generateKeyPair(alg: KeyAlgorithm = "ec-p256"): Promise<CryptoKeyPair> {
    return (await webcrypto.subtle.generateKey(keyGenParams(alg), true, ["sign", "verify"])) as CryptoKeyPair
}

function validity(opts: CertOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
    const now = Date.now()
    return {
        notBefore: opts.notBefore ?? new Date(now - BACKDATE_MS),
        notAfter: opts.notAfter ?? new Date(now + (opts.validDays ?? defaultDays) * DAY_MS),
    }
}

async function issue(issuer: CertifiedKey, opts: CertOptions, defaultDays: number, extensions: x509.Extension[]): Promise<CertifiedKey> {
    const keys = await generateKeyPair(opts.algorithm)
    const cert = await x509.X509CertificateGenerator.create({
        subject: `CN=${opts.commonName}`,
        issuer: issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
        signingAlgorithm: signingAlgorithmFor(issuer.keys.privateKey),
        ...validity(opts, defaultDays),
        extensions: [
            ...extensions,
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
            await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
        ],
    })
    return { cert, keys, issuers: [issuer.cert, ...issuer.issuers] }
}

async function selfSigned(opts: CertOptions, defaultDays: number, extensions: x509.Extension[]): Promise<CertifiedKey> {
    const keys = await generateKeyPair(opts.algorithm)
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
        name: `CN=${opts.commonName}`,
        keys,
        signingAlgorithm: signingAlgorithmFor(keys.privateKey),
        ...validity(opts, defaultDays),
        extensions: [...extensions, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
    })
    return { cert, keys, issuers: [] }
}

const CA_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign

export async function createRootCa(opts: CertOptions): Promise<CertifiedKey> {
    return selfSigned(opts, 3650, [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(CA_USAGES, true)])
}

/** An intermediate CA (e.g. an IoT Edge device CA) that may sign leaves only (pathLength 0). */
export async function issueIntermediateCa(issuer: CertifiedKey, opts: CertOptions): Promise<CertifiedKey> {
    return issue(issuer, opts, 3650, [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(CA_USAGES, true)])
}

function clientExtensions(): x509.Extension[] {
    return [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], true),
    ]
}

/**
 * A TLS client certificate: an X.509 device identity (CN = registration id / device id), or a
 * proof-of-possession verification certificate (CN = the verification code). Signed by the issuer's
 * key, or self-signed without one (an individual enrollment or a hub thumbprint identity).
 */
export async function issueClientCert(issuer: CertifiedKey | undefined, opts: CertOptions): Promise<CertifiedKey> {
    return issuer ? issue(issuer, opts, 365, clientExtensions()) : selfSigned(opts, 365, clientExtensions())
}

/** A TLS server certificate; the SAN list is what clients verify the hostname against. */
export async function issueServerCert(issuer: CertifiedKey, opts: ServerCertOptions): Promise<CertifiedKey> {
    const names: x509.JsonGeneralNames = [
        ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
    ]
    const usage = opts.algorithm === "rsa-2048" ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature
    return issue(issuer, opts, 365, [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(usage, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names),
    ])
}

export function certToPem(cert: x509.X509Certificate): string {
    return cert.toString("pem") + "\n"
}

/** The leaf followed by its intermediates (not the root): what a TLS server presents. */
export function chainToPem(ck: CertifiedKey): string {
    const presented = [ck.cert, ...ck.issuers.slice(0, -1)]
    return presented.map(certToPem).join("")
}

export async function privateKeyToPem(keys: CryptoKeyPair): Promise<string> {
    const der = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)
    return x509.PemConverter.encode(der, "PRIVATE KEY") + "\n"
}
