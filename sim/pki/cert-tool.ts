// Test certificates for X.509 attestation, as the Azure IoT Node SDK's create_test_cert.js makes them:
// root and intermediate CAs, device certificates (CN = registration id) and proof-of-possession
// verification certificates (CN = the service's code), as predictable files in one folder:
// <name>_cert.pem, <name>_fullchain.pem (the certificate, then its issuers up to the root) and
// <name>_key.pem (PKCS#8, 0600). A parent CA is read back from the same folder by its name.
import { X509Certificate, createPrivateKey } from "crypto"
import * as fs from "fs"
import * as path from "path"
import "reflect-metadata"
import * as x509 from "@peculiar/x509"
import { CertifiedKey, KeyAlgorithm, certToPem, createRootCa, issueClientCert, issueIntermediateCa, privateKeyToPem } from "./certificates"
import { firstCert, loadCertifiedKey, writeAtomically } from "./pki-files"
import { X509_MAX_CN_LENGTH, x509Thumbprints } from "../emulator/auth/x509"

export const DEFAULT_ROOT_CN = "Azure IoT Test Root CA"
/** Short, like the SDK tool's (1 day); long enough that a CA stays usable for a while (pki-files renews a day early). */
export const DEFAULT_VALID_DAYS = 30
const MAX_VALID_DAYS = 3650
const MAX_REGISTRATION_ID_LENGTH = 128
const REGISTRATION_ID = /^[A-Za-z0-9._:-]+$/
// Characters the subject string `CN=...` would split or escape (a comma silently truncates the name).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters would corrupt the subject string
const CN_SPECIAL = /[,+="\\<>;\x00-\x1f\x7f]|^[#\s]|\s$/
const DAY_MS = 24 * 3600 * 1000

export interface CertToolOptions {
    /** Key of the new certificate; the signature follows the issuer's key. Default ec-p256. */
    algorithm?: KeyAlgorithm
    /** Validity from now, never past the issuer's. Default DEFAULT_VALID_DAYS. */
    days?: number
    /** Replace existing files of the same name. */
    force?: boolean
}

export interface CertFiles {
    certFile: string
    keyFile: string
    fullchainFile: string
}

export interface WrittenCert {
    kind: "root" | "intermediate" | "device" | "verification"
    subject: string
    issuer: string
    algorithm: KeyAlgorithm
    notAfter: Date
    certFile: string
    keyFile: string
    /** Absent for a verification certificate, which is only uploaded. */
    fullchainFile?: string
    /** Upper-case hex without separators, as az and the portal show them. */
    sha1Thumbprint: string
    sha256Thumbprint: string
}

/** A name as it appears in file names: letters, digits, `-`, `_`, `.`; anything else becomes `_`. */
export function fileSafeName(name: string): string {
    return name.replace(/[^A-Za-z0-9._-]/g, "_")
}

export function certFiles(dir: string, name: string): CertFiles {
    const base = path.join(dir, fileSafeName(name))
    return { certFile: `${base}_cert.pem`, keyFile: `${base}_key.pem`, fullchainFile: `${base}_fullchain.pem` }
}

function checkCommonName(cn: string, what: string) {
    if (cn.length === 0) throw new Error(`${what} is empty`)
    if (cn.length > X509_MAX_CN_LENGTH) throw new Error(`${what} "${cn}" is ${cn.length} characters: a certificate's CN holds at most ${X509_MAX_CN_LENGTH}`)
    if (CN_SPECIAL.test(cn))
        throw new Error(`${what} "${cn}" has a character a subject name cannot carry as is (, + = " \\ < > ; control characters, leading # or spaces)`)
}

function checkRegistrationId(id: string) {
    if (!REGISTRATION_ID.test(id) || id.length > MAX_REGISTRATION_ID_LENGTH)
        throw new Error(`"${id}" is not a DPS registration id: 1 to ${MAX_REGISTRATION_ID_LENGTH} of a-z A-Z 0-9 - . _ :`)
    if (id.length > X509_MAX_CN_LENGTH)
        throw new Error(
            `registration id "${id}" is ${id.length} characters: X.509 attestation reads it from the certificate's CN, ` +
                `which holds at most ${X509_MAX_CN_LENGTH} (DPS allows ${MAX_REGISTRATION_ID_LENGTH} for other attestations)`
        )
}

function validDays(opts: CertToolOptions): number {
    const days = opts.days ?? DEFAULT_VALID_DAYS
    if (!Number.isInteger(days) || days < 1 || days > MAX_VALID_DAYS)
        throw new Error(`validity must be a whole number of days from 1 to ${MAX_VALID_DAYS}, not ${days}`)
    return days
}

/** A child never outlives its issuer: a chain is only as valid as its shortest-lived link. */
function notAfterUnder(issuer: CertifiedKey, opts: CertToolOptions): Date {
    return new Date(Math.min(Date.now() + validDays(opts) * DAY_MS, issuer.cert.notAfter.getTime()))
}

function refuseOverwrite(files: string[], force: boolean | undefined) {
    const existing = files.find((f) => fs.existsSync(f))
    if (existing && !force) throw new Error(`${existing} exists; pass --force to replace it`)
}

/** Why loadCertifiedKey turned a CA's files down, in the user's terms. */
function whyUnusable(files: CertFiles): string {
    let cert: x509.X509Certificate
    try {
        cert = firstCert(fs.readFileSync(files.certFile, "utf8"))
    } catch {
        return `${files.certFile} holds no readable certificate`
    }
    const now = Date.now()
    if (cert.notAfter.getTime() <= now) return `${files.certFile} expired on ${cert.notAfter.toISOString()}`
    if (cert.notBefore.getTime() > now) return `${files.certFile} is not valid before ${cert.notBefore.toISOString()}`
    try {
        const matches = new X509Certificate(Buffer.from(cert.rawData)).checkPrivateKey(createPrivateKey(fs.readFileSync(files.keyFile, "utf8")))
        if (!matches) return `${files.keyFile} is not the key of ${files.certFile}`
    } catch {
        return `${files.keyFile} holds no readable private key`
    }
    return `${files.certFile} expires on ${cert.notAfter.toISOString()}, too soon to sign with: create a new CA`
}

interface LoadedCa {
    ca: CertifiedKey
    /** The CA's fullchain file: what follows a certificate it signs in that certificate's fullchain. */
    chainPem: string
    pathLength?: number
}

async function loadCa(dir: string, caName: string): Promise<LoadedCa> {
    const files = certFiles(dir, caName)
    for (const f of [files.certFile, files.keyFile, files.fullchainFile])
        if (!fs.existsSync(f)) throw new Error(`CA "${caName}" not found: ${f} does not exist (create the CA first, or pass --dir)`)
    const ca = await loadCertifiedKey(files.certFile, files.keyFile)
    if (!ca) throw new Error(`CA "${caName}" cannot sign: ${whyUnusable(files)}`)
    const constraints = ca.cert.getExtension(x509.BasicConstraintsExtension)
    if (!constraints?.ca) throw new Error(`"${caName}" is not a CA certificate (${files.certFile}); it cannot sign others`)
    const chainPem = fs.readFileSync(files.fullchainFile, "utf8")
    if (!firstCert(chainPem).equal(ca.cert)) throw new Error(`${files.fullchainFile} does not start with ${files.certFile}`)
    return { ca, chainPem, pathLength: constraints.pathLength }
}

function refuseSelfAsIssuer(name: string, caName: string) {
    if (fileSafeName(name) === fileSafeName(caName)) throw new Error(`"${name}" cannot be signed by itself as --ca; name the certificate differently`)
}

async function write(
    kind: WrittenCert["kind"],
    dir: string,
    files: CertFiles,
    issued: CertifiedKey,
    chainPem: string | undefined,
    opts: CertToolOptions
): Promise<WrittenCert> {
    if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const certPem = certToPem(issued.cert)
    writeAtomically(files.keyFile, await privateKeyToPem(issued.keys), 0o600)
    writeAtomically(files.certFile, certPem, 0o644)
    if (chainPem !== undefined) writeAtomically(files.fullchainFile, certPem + chainPem, 0o644)
    const thumbprints = x509Thumbprints(new X509Certificate(Buffer.from(issued.cert.rawData)))
    return {
        kind,
        subject: issued.cert.subject,
        issuer: issued.cert.issuer,
        algorithm: opts.algorithm ?? "ec-p256",
        notAfter: issued.cert.notAfter,
        certFile: files.certFile,
        keyFile: files.keyFile,
        fullchainFile: chainPem === undefined ? undefined : files.fullchainFile,
        sha1Thumbprint: thumbprints.sha1,
        sha256Thumbprint: thumbprints.sha256,
    }
}

/** A self-signed root CA, `<dir>/<commonName>_{cert,fullchain,key}.pem`. */
export async function createRoot(dir: string, commonName: string = DEFAULT_ROOT_CN, opts: CertToolOptions = {}): Promise<WrittenCert> {
    checkCommonName(commonName, "the root's common name")
    const files = certFiles(dir, commonName)
    refuseOverwrite(Object.values(files), opts.force)
    const root = await createRootCa({ commonName, algorithm: opts.algorithm, validDays: validDays(opts) })
    return write("root", dir, files, root, "", opts)
}

/**
 * An intermediate CA signed by CA `caName` of the same folder. It may sign devices only (path
 * length 0), so a root signs intermediates and an intermediate signs devices.
 */
export async function createIntermediate(dir: string, commonName: string, caName: string, opts: CertToolOptions = {}): Promise<WrittenCert> {
    checkCommonName(commonName, "the intermediate's common name")
    refuseSelfAsIssuer(commonName, caName)
    const files = certFiles(dir, commonName)
    refuseOverwrite(Object.values(files), opts.force)
    const parent = await loadCa(dir, caName)
    if (parent.pathLength === 0) throw new Error(`CA "${caName}" may sign device certificates only (path length 0): sign the intermediate with a root`)
    const ca = await issueIntermediateCa(parent.ca, { commonName, algorithm: opts.algorithm, notAfter: notAfterUnder(parent.ca, opts) })
    return write("intermediate", dir, files, ca, parent.chainPem, opts)
}

/**
 * A device certificate, CN = the registration id, client authentication. Signed by CA `caName` for
 * group enrollments; self-signed without one (an individual enrollment or a thumbprint identity).
 */
export async function createDevice(dir: string, registrationId: string, caName: string | undefined, opts: CertToolOptions = {}): Promise<WrittenCert> {
    checkRegistrationId(registrationId)
    if (caName !== undefined) refuseSelfAsIssuer(registrationId, caName)
    const files = certFiles(dir, registrationId)
    refuseOverwrite(Object.values(files), opts.force)
    if (caName === undefined) {
        const device = await issueClientCert(undefined, { commonName: registrationId, algorithm: opts.algorithm, validDays: validDays(opts) })
        return write("device", dir, files, device, "", opts)
    }
    const parent = await loadCa(dir, caName)
    const device = await issueClientCert(parent.ca, { commonName: registrationId, algorithm: opts.algorithm, notAfter: notAfterUnder(parent.ca, opts) })
    return write("device", dir, files, device, parent.chainPem, opts)
}

/**
 * DPS proof of possession: CN = the verification code the service issued for CA `caName`, signed
 * by that CA's key. Written as `<caName>_verification_{cert,key}.pem`.
 */
export async function createVerification(dir: string, verificationCode: string, caName: string, opts: CertToolOptions = {}): Promise<WrittenCert> {
    checkCommonName(verificationCode, "the verification code")
    const files = certFiles(dir, `${fileSafeName(caName)}_verification`)
    refuseOverwrite([files.certFile, files.keyFile], opts.force)
    const parent = await loadCa(dir, caName)
    const cert = await issueClientCert(parent.ca, { commonName: verificationCode, algorithm: opts.algorithm, notAfter: notAfterUnder(parent.ca, opts) })
    return write("verification", dir, files, cert, undefined, opts)
}
