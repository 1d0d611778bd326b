// DPS's service REST shapes (api-version 2021-10-01: IndividualEnrollment, EnrollmentGroup,
// AttestationMechanism, DeviceRegistrationState) to and from the emulator's own: a request body
// becomes an enrollment as the config file writes it (then checked by the config's rules); an
// enrollment becomes the body DPS answers with. Keys never leave in an enrollment body: DPS
// returns them only from `.../attestationmechanism` (by design, azure-iot-sdk-csharp#1183).
import { X509Certificate, randomBytes } from "crypto"
import { Enrollment, X509EnrolledCert } from "../../config"
import { RegistrationRecord } from "../../state/state"
import { RestError } from "../azure-rest"

const bad = (message: string) => new RestError(400, "ArgumentInvalid", message)

/** A certificate as DPS takes it: PEM, or base64 of DER. */
function pemOf(v: unknown, where: string): string {
    if (typeof v !== "string" || !v.trim()) throw bad(`${where} must be a PEM or base64 DER certificate`)
    if (v.includes("-----BEGIN")) return v
    const b64 = v.replace(/\s+/g, "")
    return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`
}

/**
 * Keys a request leaves out: those the enrollment has (a GET shows none, so a read-modify-write must not
 * rotate them), else new ones (64 random bytes, as az makes them).
 */
const keyOr = (k: unknown, kept: string | undefined) => (typeof k === "string" && k ? k : (kept ?? randomBytes(64).toString("base64")))

function attestationRaw(a: any, individual: boolean, existing?: Enrollment): object {
    const type = a?.type
    const kept = existing?.attestation.type === "symmetricKey" ? existing.attestation : undefined
    if (type === "symmetricKey")
        return { type, primaryKey: keyOr(a.symmetricKey?.primaryKey, kept?.primaryKey), secondaryKey: keyOr(a.symmetricKey?.secondaryKey, kept?.secondaryKey) }
    if (type !== "x509") throw bad(`attestation.type must be symmetricKey or x509${type === "tpm" ? " (TPM attestation is not emulated)" : ""}`)
    const x = a.x509 ?? {}
    if (individual) {
        const c = x.clientCertificates
        if (!c?.primary?.certificate) throw bad("an individual X.509 enrollment needs attestation.x509.clientCertificates.primary.certificate")
        const secondary = c.secondary?.certificate
        return {
            type,
            certificate: pemOf(c.primary.certificate, "clientCertificates.primary"),
            ...(secondary ? { secondaryCertificate: pemOf(secondary, "clientCertificates.secondary") } : {}),
        }
    }
    if (x.caReferences?.primary) return { type, caCertificate: x.caReferences.primary }
    if (x.signingCertificates?.primary?.certificate)
        return { type, certificate: pemOf(x.signingCertificates.primary.certificate, "signingCertificates.primary") }
    throw bad("an X.509 enrollment group needs attestation.x509.caReferences.primary or signingCertificates.primary.certificate")
}

/** A DPS request body as the config file's enrollment (then validated by its rules); `existing`: the one it replaces. */
export function enrollmentRaw(body: any, kind: Enrollment["kind"], id: string, existing?: Enrollment): object {
    const idField = kind === "individual" ? "registrationId" : "enrollmentGroupId"
    if (body[idField] !== undefined && String(body[idField]).toLowerCase() !== id.toLowerCase())
        throw bad(`${idField} ${JSON.stringify(body[idField])} in the body is not ${id} of the path`)
    if (body.capabilities?.iotEdge === true) throw bad("IoT Edge devices come from the emulator's config (edges)")
    const tags = body.initialTwin?.tags
    if (tags && Object.keys(tags).length) throw bad("initialTwin.tags are not emulated (desired properties are)")
    const status = body.provisioningStatus ?? "enabled"
    if (status !== "enabled" && status !== "disabled") throw bad('provisioningStatus must be "enabled" or "disabled"')
    // What DPS adds to a twin it shows ($metadata, $version) is not part of what a client sets.
    const { $metadata: _m, $version: _v, ...desired } = body.initialTwin?.properties?.desired ?? {}
    return {
        [idField]: id,
        ...(kind === "individual" && body.deviceId ? { deviceId: body.deviceId } : {}),
        attestation: attestationRaw(body.attestation, kind === "individual", existing),
        enabled: status === "enabled",
        ...(body.iotHubHostName ? { iotHubHostName: body.iotHubHostName } : {}),
        ...(body.iotHubs?.length ? { iotHubs: body.iotHubs } : {}),
        ...(body.allocationPolicy ? { allocationPolicy: body.allocationPolicy } : {}),
        ...(body.customAllocationDefinition ? { customAllocationDefinition: body.customAllocationDefinition } : {}),
        ...(body.reprovisionPolicy ? { reprovisionPolicy: body.reprovisionPolicy } : {}),
        ...(body.initialTwin ? { initialTwin: { properties: { desired } } } : {}),
    }
}

function certInfo(c: X509Certificate) {
    const hex = (fp: string) => fp.replace(/:/g, "")
    return {
        subjectName: c.subject.replace(/\n/g, ", "),
        sha1Thumbprint: hex(c.fingerprint),
        sha256Thumbprint: hex(c.fingerprint256),
        issuerName: c.issuer.replace(/\n/g, ", "),
        notBeforeUtc: new Date(c.validFrom).toISOString(),
        notAfterUtc: new Date(c.validTo).toISOString(),
        serialNumber: c.serialNumber,
        version: 3,
    }
}

function enrolledCert(c: X509EnrolledCert | undefined) {
    if (!c) return undefined
    return "certificate" in c
        ? { info: certInfo(c.certificate) }
        : {
              info: {
                  sha1Thumbprint: c.thumbprint.length === 40 ? c.thumbprint : undefined,
                  sha256Thumbprint: c.thumbprint.length === 64 ? c.thumbprint : undefined,
              },
          }
}

/** The attestation as DPS shows it: keys only when `withKeys` (the attestationmechanism call). */
export function attestationBody(e: Enrollment, withKeys: boolean) {
    const a = e.attestation
    if (a.type === "symmetricKey") return { type: "symmetricKey", symmetricKey: withKeys ? { primaryKey: a.primaryKey, secondaryKey: a.secondaryKey } : {} }
    if (e.kind === "individual" && e.attestation.type === "x509")
        return {
            type: "x509",
            x509: { clientCertificates: { primary: enrolledCert(e.attestation.primary), secondary: enrolledCert(e.attestation.secondary) } },
        }
    if (e.kind === "group" && e.attestation.type === "x509") {
        const ca = e.attestation.ca
        return {
            type: "x509",
            x509: "caName" in ca ? { caReferences: { primary: ca.caName } } : { signingCertificates: { primary: { info: certInfo(ca.certificate) } } },
        }
    }
    throw new Error("unreachable attestation")
}

/** An enrollment as DPS answers it (IndividualEnrollment or EnrollmentGroup). */
export function enrollmentBody(e: Enrollment, meta: { etag: string; createdDateTimeUtc?: string; lastUpdatedDateTimeUtc?: string }) {
    return {
        ...(e.kind === "individual" ? { registrationId: e.registrationId, deviceId: e.deviceId } : { enrollmentGroupId: e.enrollmentGroupId }),
        attestation: attestationBody(e, false),
        capabilities: { iotEdge: false },
        iotHubHostName: e.iotHubHostName,
        initialTwin: e.initialTwin ? { tags: {}, properties: { desired: e.initialTwin.desired } } : undefined,
        etag: meta.etag,
        provisioningStatus: e.enabled ? "enabled" : "disabled",
        reprovisionPolicy: e.reprovisionPolicy,
        createdDateTimeUtc: meta.createdDateTimeUtc,
        lastUpdatedDateTimeUtc: meta.lastUpdatedDateTimeUtc,
        allocationPolicy: e.allocationPolicy,
        iotHubs: e.iotHubs ?? [],
        customAllocationDefinition: e.customAllocationDefinition,
    }
}

/** DeviceRegistrationState as DPS answers it. */
export function registrationBody(r: RegistrationRecord) {
    return {
        registrationId: r.registrationId,
        createdDateTimeUtc: r.createdDateTimeUtc,
        assignedHub: r.assignedHub,
        deviceId: r.deviceId,
        status: r.status,
        substatus: r.substatus,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        lastUpdatedDateTimeUtc: r.lastUpdatedDateTimeUtc,
        etag: r.etag,
    }
}
