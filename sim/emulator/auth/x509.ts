// X.509 checks of azure-iot-protocol.md section 5, as plain functions of certificates and a time:
// the subject CN, thumbprints as Azure writes them, and building a presented chain up to one of a
// set of trust points (enrolled CAs or an enrolled device certificate). Every refusal is one reason.
import { X509Certificate, createHash } from "crypto"

/** DPS and IoT Hub take the registration / device id from the subject CN, at most 64 characters. */
export const X509_MAX_CN_LENGTH = 64

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Every certificate of a PEM text, in order. Throws with the reason on unreadable input. */
export function x509ParsePem(pem: string): X509Certificate[] {
    const blocks = pem.match(PEM_CERT) ?? []
    if (blocks.length === 0) throw new Error("no PEM certificate found")
    return blocks.map((b) => new X509Certificate(b))
}

/** The last CN of the subject (`CN=dev-01`), or undefined. */
export function x509CommonName(cert: X509Certificate): string | undefined {
    const cns = cert.subject
        .split("\n")
        .filter((line) => line.startsWith("CN="))
        .map((line) => line.slice(3))
    return cns.length ? cns[cns.length - 1] : undefined
}

/** SHA-1 and SHA-256 of the DER, upper-case hex without separators (what `az iot` and the portal show). */
export function x509Thumbprints(cert: X509Certificate): { sha1: string; sha256: string } {
    return {
        sha1: createHash("sha1").update(cert.raw).digest("hex").toUpperCase(),
        sha256: createHash("sha256").update(cert.raw).digest("hex").toUpperCase(),
    }
}

/** True when `thumbprint` (SHA-1 or SHA-256, any case, colons allowed) names this certificate. */
export function x509MatchesThumbprint(cert: X509Certificate, thumbprint: string): boolean {
    const wanted = thumbprint.replace(/:/g, "").toUpperCase()
    const t = x509Thumbprints(cert)
    return wanted === t.sha1 || wanted === t.sha256
}

export function x509SameCert(a: X509Certificate, b: X509Certificate): boolean {
    return a.raw.equals(b.raw)
}

/** Why a certificate is not valid at `now`, or undefined when it is. */
export function x509ValidityProblem(cert: X509Certificate, now: Date): string | undefined {
    const name = x509CommonName(cert) ?? cert.subject
    if (Date.parse(cert.validFrom) > now.getTime()) return `certificate ${JSON.stringify(name)} is not valid before ${cert.validFrom}`
    if (Date.parse(cert.validTo) <= now.getTime()) return `certificate ${JSON.stringify(name)} expired on ${cert.validTo}`
    return undefined
}

/**
 * `child` names `parent` as issuer and carries its signature. Not checkIssued: OpenSSL's would also
 * refuse a parent without keyCertSign, and the chain walk names a non-CA issuer as such.
 */
function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
    try {
        return child.issuer === parent.subject && child.verify(parent.publicKey)
    } catch {
        return false
    }
}

export type ChainResult =
    | {
          ok: true
          /** The trust point the chain reached: the nearest one up from the leaf. */
          anchor: X509Certificate
          /** Leaf first, up to and including the anchor. */
          path: X509Certificate[]
      }
    /** `unknownIssuer`: the chain ended at a certificate whose issuer is neither presented nor a trust point. */
    | { ok: false; reason: string; unknownIssuer?: string }

// Longer chains than this are not built (IoT chains are device -> intermediate(s) -> root).
const MAX_CHAIN_DEPTH = 8

/**
 * Walks from the leaf upward through the presented certificates and the trust points, stopping at the
 * first certificate that is a trust point (so the nearest enrollment up the chain wins). Each link must be
 * signed by the next, every issuer must be a CA, and every certificate on the path valid at `now`.
 */
export function x509BuildChain(presented: readonly X509Certificate[], trustPoints: readonly X509Certificate[], now: Date): ChainResult {
    if (presented.length === 0) return { ok: false, reason: "no client certificate was presented" }
    const path: X509Certificate[] = []
    let current = presented[0]
    for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
        const problem = x509ValidityProblem(current, now)
        if (problem) return { ok: false, reason: problem }
        if (depth > 0 && !current.ca) return { ok: false, reason: `issuer ${current.subject} is not a CA certificate` }
        path.push(current)
        const anchor = trustPoints.find((t) => x509SameCert(t, current))
        if (anchor) return { ok: true, anchor, path }
        const self = current
        const parent = [...presented.slice(1), ...trustPoints].find((c) => !x509SameCert(c, self) && signedBy(self, c))
        if (!parent) {
            const issuer = current.issuer.replace(/\n/g, ", ")
            const what = JSON.stringify(x509CommonName(current) ?? current.subject)
            return { ok: false, unknownIssuer: issuer, reason: `certificate ${what} was issued by "${issuer}", which is neither presented nor trusted` }
        }
        current = parent
    }
    return { ok: false, reason: `certificate chain longer than ${MAX_CHAIN_DEPTH}` }
}
