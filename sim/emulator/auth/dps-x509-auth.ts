// X.509 attestation at a DPS CONNECT without password (azure-iot-protocol.md section 5): the leaf's
// CN is the registration id, the leaf is valid now, then the individual enrollment of that id decides
// (its certificate or thumbprint); without one, the nearest X.509 group CA up the presented chain
// does, and a CA uploaded by name counts only once verified (proof of possession).
import { X509Certificate } from "crypto"
import { CaStore } from "../state/ca-store"
import { EmulatorConfig, GroupEnrollment, GroupX509Attestation, IndividualEnrollment, X509EnrolledCert, individualEnrollment } from "../config"
import { X509_MAX_CN_LENGTH, x509BuildChain, x509CommonName, x509MatchesThumbprint, x509SameCert, x509Thumbprints, x509ValidityProblem } from "./x509"

export type DpsX509Result =
    | {
          ok: true
          enrollment: IndividualEnrollment | GroupEnrollment
          leaf: X509Certificate
          /** For a group: the CA certificate the chain reached. */
          anchor?: X509Certificate
      }
    | { ok: false; reason: string }

type X509Group = GroupEnrollment & { attestation: GroupX509Attestation }

function matches(leaf: X509Certificate, enrolled: X509EnrolledCert | undefined): boolean {
    if (!enrolled) return false
    return "certificate" in enrolled ? x509SameCert(leaf, enrolled.certificate) : x509MatchesThumbprint(leaf, enrolled.thumbprint)
}

export function dpsAuthenticateX509(
    registrationId: string,
    chain: readonly X509Certificate[],
    config: EmulatorConfig,
    certificates: CaStore,
    now: Date
): DpsX509Result {
    const fail = (reason: string): DpsX509Result => ({ ok: false, reason })
    if (chain.length === 0) return fail("no SAS token and no client certificate")
    const leaf = chain[0]
    const cn = x509CommonName(leaf)
    if (cn === undefined || cn.toLowerCase() !== registrationId.toLowerCase())
        return fail(`certificate CN ${JSON.stringify(cn ?? "")} is not the registration id ${JSON.stringify(registrationId)}`)
    if (cn.length > X509_MAX_CN_LENGTH) return fail(`certificate CN is longer than ${X509_MAX_CN_LENGTH} characters`)
    const invalid = x509ValidityProblem(leaf, now)
    if (invalid) return fail(invalid)

    // An individual enrollment decides alone: a mismatch is not retried against the groups.
    const individual = individualEnrollment(config, registrationId)
    if (individual) {
        const att = individual.attestation
        if (att.type !== "x509") return fail(`individual enrollment ${individual.registrationId} uses symmetric key attestation, and no SAS token was sent`)
        if (matches(leaf, att.primary) || matches(leaf, att.secondary)) return { ok: true, enrollment: individual, leaf }
        return fail(`certificate (SHA-1 ${x509Thumbprints(leaf).sha1}) matches neither certificate of individual enrollment ${individual.registrationId}`)
    }

    const groups = config.enrollments.filter((e): e is X509Group => e.kind === "group" && e.attestation.type === "x509")
    const cas = groups.map((group) => {
        const ca = group.attestation.ca
        return { group, cert: "certificate" in ca ? ca.certificate : certificates.get(ca.caName)?.cert }
    })
    const built = x509BuildChain(
        chain,
        cas.flatMap((c) => (c.cert ? [c.cert] : [])),
        now
    )
    if (!built.ok) {
        if (built.unknownIssuer === undefined) return fail(built.reason)
        const missing = groups.flatMap((g) => ("caName" in g.attestation.ca && !certificates.get(g.attestation.ca.caName) ? [g.attestation.ca.caName] : []))
        const note = missing.length ? ` (CA certificates named by groups but not uploaded: ${missing.join(", ")})` : ""
        return fail(`certificate chain does not lead to an enrolled CA: ${built.reason}${note}`)
    }
    // The nearest CA up the chain picks the group, even when a CA further up is enrolled too.
    const { group } = cas.find((c) => c.cert && x509SameCert(c.cert, built.anchor))!
    const ca = group.attestation.ca
    if ("caName" in ca && !certificates.get(ca.caName)?.verified)
        return fail(`CA certificate ${ca.caName} of enrollment group ${group.enrollmentGroupId} is not verified (proof of possession)`)
    return { ok: true, enrollment: group, leaf, anchor: built.anchor }
}
