// Which linked hub DPS gives a device (concepts-service "Allocation policy", concepts-custom-allocation,
// concepts-device-reprovision): the enrollment's candidate hubs, the built-in policies, the custom
// allocation webhook's request and answer, and what a second registration does. Plain functions.
import { createHash, X509Certificate } from "crypto"
import { EmulatorConfig, Enrollment, enrollmentId } from "../config"
import { x509CommonName, x509Thumbprints } from "../auth/x509"

/** The hubs an enrollment may allocate to: its `iotHubs`, or every linked hub that applies allocation policies. */
export function allocationCandidates(config: EmulatorConfig, e: Enrollment): string[] {
    if (e.iotHubs) return config.hubs.filter((h) => e.iotHubs!.some((n) => n.toLowerCase() === h.hostName.toLowerCase())).map((h) => h.hostName)
    const applying = config.hubs.filter((h) => h.applyAllocationPolicy).map((h) => h.hostName)
    return applying.length ? applying : [e.iotHubHostName]
}

/** Evenly weighted: the same registration id always lands on the same hub of the same candidates. */
function hashed(candidates: string[], registrationId: string): string {
    const h = createHash("sha256").update(registrationId.toLowerCase()).digest()
    return candidates[h.readUInt32BE(0) % candidates.length]
}

/** The hub a built-in policy picks (custom is decided by the webhook). */
export function builtInHub(config: EmulatorConfig, e: Enrollment, registrationId: string): string {
    const candidates = allocationCandidates(config, e)
    switch (e.allocationPolicy) {
        case "static":
            return e.iotHubHostName
        case "geoLatency": {
            // Stand-in for DPS's measured latency from the device's region: the configured latencyMs; ties hash.
            const latency = (hub: string) => config.hubs.find((h) => h.hostName === hub)!.latencyMs
            const best = Math.min(...candidates.map(latency))
            return hashed(
                candidates.filter((h) => latency(h) === best),
                registrationId
            )
        }
        default:
            return hashed(candidates, registrationId)
    }
}

export interface DeviceRuntime {
    registrationId: string
    /** X.509: the certificate the device presented. */
    leaf?: X509Certificate
    payload?: unknown
    currentHub?: string
    currentDeviceId?: string
}

/** The AllocationRequest DPS posts to a custom allocation webhook (no keys: DPS sends none). */
export function customAllocationRequest(config: EmulatorConfig, e: Enrollment, d: DeviceRuntime): object {
    const enrollment = {
        ...(e.kind === "individual" ? { registrationId: e.registrationId, deviceId: e.deviceId } : { enrollmentGroupId: e.enrollmentGroupId }),
        attestation: { type: e.attestation.type },
        iotHubHostName: e.iotHubHostName,
        iotHubs: allocationCandidates(config, e),
        provisioningStatus: e.enabled ? "enabled" : "disabled",
        reprovisionPolicy: e.reprovisionPolicy,
        allocationPolicy: e.allocationPolicy,
        customAllocationDefinition: e.customAllocationDefinition,
        initialTwin: e.initialTwin ? { tags: {}, properties: { desired: e.initialTwin.desired } } : undefined,
    }
    const attestation = d.leaf
        ? {
              x509: {
                  clientCertificateInfo: {
                      subjectName: `CN=${x509CommonName(d.leaf) ?? ""}`,
                      sha1Thumbprint: x509Thumbprints(d.leaf).sha1,
                      sha256Thumbprint: x509Thumbprints(d.leaf).sha256,
                      issuerName: d.leaf.issuer.replace(/\n/g, ", "),
                      notBeforeUtc: new Date(d.leaf.validFrom).toISOString(),
                      notAfterUtc: new Date(d.leaf.validTo).toISOString(),
                      serialNumber: d.leaf.serialNumber,
                  },
              },
          }
        : { symmetricKey: {} }
    return {
        [e.kind === "individual" ? "individualEnrollment" : "enrollmentGroup"]: enrollment,
        deviceRuntimeContext: {
            registrationId: d.registrationId,
            currentIotHubHostName: d.currentHub,
            currentDeviceId: d.currentDeviceId,
            ...attestation,
            payload: d.payload,
        },
        linkedHubs: allocationCandidates(config, e),
    }
}

/** What the webhook decided: a hub (and optionally an initial twin and a payload for the device), or why it failed. */
export type CustomDecision =
    | { ok: true; hub: string; initialTwinDesired?: { [k: string]: unknown }; returnData?: unknown }
    | { ok: false; errorCode: number; errorMessage: string }

/** DPS reports every custom allocation failure as 400207 (as an Azure DPS answer reads: "Custom allocation failed with status code: 400"). */
export const CUSTOM_ALLOCATION_FAILED = 400207

export function customAllocationFailed(reason: string): CustomDecision {
    return { ok: false, errorCode: CUSTOM_ALLOCATION_FAILED, errorMessage: `Custom allocation failed${reason}` }
}

/** The webhook's AllocationResponse: `iotHubHostName` (one of the linked hubs), `initialTwin`, `payload`. */
export function customAllocationDecision(config: EmulatorConfig, e: Enrollment, status: number, body: string): CustomDecision {
    if (status < 200 || status > 299) return customAllocationFailed(` with status code: ${status}`)
    let json: any
    try {
        json = JSON.parse(body)
    } catch {
        return customAllocationFailed(": the webhook's answer is not JSON")
    }
    const linked = allocationCandidates(config, e)
    const hub = typeof json?.iotHubHostName === "string" ? linked.find((h) => h.toLowerCase() === json.iotHubHostName.toLowerCase()) : undefined
    if (!hub) return customAllocationFailed(`: iotHubHostName ${JSON.stringify(json?.iotHubHostName)} is not a linked hub of ${enrollmentId(e)}`)
    const desired = json.initialTwin?.properties?.desired
    return {
        ok: true,
        hub,
        initialTwinDesired: desired && typeof desired === "object" && !Array.isArray(desired) ? desired : undefined,
        returnData: json.payload ?? undefined,
    }
}
