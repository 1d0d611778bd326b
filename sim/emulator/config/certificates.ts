// The certificate checks of the configuration, explicit code the schema calls: PEM text or files
// parsed into certificates, CA certificates tried on a CA store as the upload at start will be,
// group CAs that must be intermediates, and individual certificates whose CN must be the
// registration id (DPS takes the registration id from it).
import { X509Certificate } from "crypto"
import { z } from "zod"
import { CaStore, CaStoreError } from "../state/ca-store"
import { x509CommonName, x509ParsePem } from "../auth/x509"
import type { X509EnrolledCert, X509GroupCa } from "./schema"

/** How the schema gets at files: a TLS value resolved (PEM text stays, a path becomes absolute), a certificate value read. */
export interface ConfigFiles {
    resolve(pemOrPath: string): string
    /** PEM text itself, or the text of the file it names; throws with the reason it cannot be read. */
    read(pemOrPath: string): string
}

type Ctx = z.core.ParsePayload<unknown> | z.RefinementCtx

function problem(ctx: Ctx, message: string, path: PropertyKey[] = []) {
    ctx.issues.push({ code: "custom", message, input: undefined, path })
}

/** A certificate value: PEM text or a file path (relative to the config file), parsed; a chain file gives several. */
export function certificatesField(files: ConfigFiles) {
    return z
        .string({ error: "must be PEM text or a file path" })
        .min(1, { error: "must be PEM text or a file path" })
        .transform((v, ctx): X509Certificate[] => {
            try {
                return x509ParsePem(files.read(v))
            } catch (e) {
                problem(ctx, (e as Error).message)
                return z.NEVER
            }
        })
}

/** The same checks the upload makes at start (a trial store), so a bad CA is a config error. */
export function caCertificateUpload(c: { name: string; cert: X509Certificate[]; verified: boolean }, ctx: Ctx) {
    const pem = c.cert.map((x) => x.toString()).join("\n")
    try {
        new CaStore().upload(c.name, pem, c.verified)
    } catch (e) {
        if (!(e instanceof CaStoreError)) throw e
        problem(ctx, e.message)
        return z.NEVER
    }
    return { name: c.name, pem, verified: c.verified }
}

function selfSigned(cert: X509Certificate): boolean {
    try {
        return cert.checkIssued(cert) && cert.verify(cert.publicKey)
    } catch {
        return false
    }
}

/** A group's CA: a name in `certificates`, or an intermediate CA given directly (a root must prove possession first). */
export function groupCa(caName: string | undefined, certificate: X509Certificate[] | undefined, ctx: Ctx): X509GroupCa | undefined {
    if ((caName === undefined) === (certificate === undefined))
        return void problem(ctx, "needs caCertificate (a name in certificates) or certificate (an intermediate CA, PEM or path), one of them")
    if (caName !== undefined) return { caName }
    const ca = certificate![0]
    if (!ca.ca) return void problem(ctx, "is not a CA certificate (basicConstraints CA:TRUE)", ["certificate"])
    // A root proves possession first (DPS requires it): uploaded under certificates, then verified.
    if (selfSigned(ca))
        return void problem(ctx, "is a root CA; add it to certificates and name it in caCertificate (it must be verified by proof of possession)", [
            "certificate",
        ])
    return { certificate: ca }
}

/** DPS takes an individual X.509 enrollment's registration id from the certificate's CN. */
export function checkCommonNames(
    e: { registrationId: string; attestation: { type: string; primary?: X509EnrolledCert; secondary?: X509EnrolledCert } },
    ctx: z.RefinementCtx
): void {
    for (const c of [e.attestation.primary, e.attestation.secondary]) {
        if (!c || !("certificate" in c)) continue
        const cn = x509CommonName(c.certificate)
        if (cn?.toLowerCase() !== e.registrationId.toLowerCase())
            problem(ctx, `certificate CN ${JSON.stringify(cn)} is not the registration id ${e.registrationId}`, ["attestation"])
    }
}
