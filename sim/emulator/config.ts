// The emulator's configuration: a JSON file of public values plus a secrets file of keys
// (git-ignored), validated into one typed object. Relative TLS paths resolve against the
// config file's directory; a TLS value holding "-----BEGIN" is PEM text itself. X.509
// certificates of enrollments are read and checked here, so a bad one is a config error.
import * as fs from "fs"
import * as path from "path"
import { X509Certificate, randomBytes } from "crypto"
import { CaStore, CaStoreError } from "./state/ca-store"
import { x509CommonName, x509ParsePem } from "./auth/x509"
import { EVENT_TYPES, EventGridSubscriptionConfig } from "./service/event-grid"

export interface SymmetricKeyAttestation {
    type: "symmetricKey"
    primaryKey?: string
    secondaryKey?: string
}

/** X.509 attestations carry no keys (declared so any attestation's keys read as possibly undefined). */
interface NoKeys {
    primaryKey?: undefined
    secondaryKey?: undefined
}

/** One enrolled device certificate: the certificate itself, or its SHA-1 / SHA-256 thumbprint (upper hex). */
export type X509EnrolledCert = { certificate: X509Certificate } | { thumbprint: string }

/** An individual X.509 enrollment: the device's own certificate (CN = registration id), and optionally a second one. */
export interface IndividualX509Attestation extends NoKeys {
    type: "x509"
    primary: X509EnrolledCert
    secondary?: X509EnrolledCert
}

/**
 * A group X.509 enrollment's CA: a certificate uploaded to DPS by name (`certificates`, or the
 * service side), which must be verified when devices register; or an intermediate CA put into the
 * group directly (DPS asks no proof of possession for those).
 */
export type X509GroupCa = { caName: string } | { certificate: X509Certificate }

export interface GroupX509Attestation extends NoKeys {
    type: "x509"
    ca: X509GroupCa
}

/** A CA certificate uploaded to DPS at start (`az iot dps certificate create [--verified]`). */
export interface CaCertificateConfig {
    name: string
    pem: string
    verified: boolean
}

/** How a hub identity authenticates (`az iot hub device-identity create --am ...`). */
export type DeviceAuthenticationConfig =
    | { type: "sas" }
    | { type: "selfSigned"; primaryThumbprint: string; secondaryThumbprint?: string }
    | { type: "certificateAuthority" }

/** Per-enrollment misbehaviour, so one emulator serves many test scenarios at once. Counted per registration id. */
export interface EnrollmentFaults {
    /** Seconds in `retry-after` (default: dps.retryAfter). */
    retryAfter?: number
    /** How many polls are answered 202 `assigning` before the result (default 1, like DPS). */
    pollsBeforeAssigned?: number
    /** The first N register requests are answered 429 (errorCode 429001). */
    throttle?: number
    /** The first N register requests (after any throttling) are answered with serverErrorStatus. */
    serverError?: number
    serverErrorStatus?: 500 | 503
    /** Allocation ends in a 200 with status `failed` and these details. */
    failAllocation?: { errorCode: number; errorMessage: string }
}

/** DPS's allocation policies (`geoLatency` is "lowest latency"; here a stand-in, see hubs[].latencyMs). */
export const ALLOCATION_POLICIES = ["hashed", "geoLatency", "static", "custom"] as const
export type AllocationPolicy = (typeof ALLOCATION_POLICIES)[number]

/** What DPS does when an assigned device registers again (`reprovisionPolicy` of an enrollment). */
export interface ReprovisionPolicy {
    /** false: never re-assign (the device keeps its hub). */
    updateHubAssignment: boolean
    /** true: the twin moves with the device; false: it is reset to the enrollment's initialTwin. */
    migrateDeviceData: boolean
}

/** The twin an enrollment gives a device when DPS first assigns it (desired properties; tags are not modelled). */
export interface InitialTwin {
    desired: { [k: string]: unknown }
}

interface EnrollmentBase {
    /** The static policy's hub (default: the first hub). */
    iotHubHostName: string
    allocationPolicy: AllocationPolicy
    /** The linked hubs this enrollment may allocate to (default: every hub that applies allocation policies). */
    iotHubs?: string[]
    /** custom: the webhook (loopback http or https) DPS posts its AllocationRequest to. */
    customAllocationDefinition?: { webhookUrl: string; apiVersion: string }
    reprovisionPolicy: ReprovisionPolicy
    initialTwin?: InitialTwin
    enabled: boolean
    faults: EnrollmentFaults
}

export interface IndividualEnrollment extends EnrollmentBase {
    kind: "individual"
    registrationId: string
    deviceId: string
    attestation: SymmetricKeyAttestation | IndividualX509Attestation
}

export interface GroupEnrollment extends EnrollmentBase {
    kind: "group"
    enrollmentGroupId: string
    attestation: SymmetricKeyAttestation | GroupX509Attestation
}

export type Enrollment = IndividualEnrollment | GroupEnrollment

/** A hub device identity created up front, as `az iot hub device-identity create` does. */
export interface DeviceIdentityConfig {
    deviceId: string
    hub: string
    authentication: DeviceAuthenticationConfig
    /** SAS devices only. */
    primaryKey?: string
    secondaryKey?: string
    status: "enabled" | "disabled"
    /** The IoT Edge device this one is a child of (`az iot hub device-identity parent set`). */
    parent?: string
}

/** An IoT Edge device acting as a transparent gateway: its own TLS endpoint (the edge PKI) in front of its hub. */
export interface EdgeGatewayConfig {
    /** The edge device's identity in `devices` (its hub is that identity's hub). */
    deviceId: string
    hub: string
    /** The gateway host name leaves connect to (`GatewayHostName`); also accepted as SAS audience. */
    hostName: string
    /** The edgeHub certificate chain and key: PEM text or file paths (absolute after loading). */
    tls: { cert: string; key: string }
    port: number
}

/** IoT Hub's permissions (ARM `authorizationPolicies[].rights`); devices need DeviceConnect. */
export const POLICY_RIGHTS = ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] as const
export type PolicyRight = (typeof POLICY_RIGHTS)[number]

/** A hub's shared access policy: a key name, its rights and its keys (from the config or the secrets file). */
export interface SharedAccessPolicy {
    keyName: string
    rights: PolicyRight[]
    primaryKey?: string
    secondaryKey?: string
}

export interface HubConfig {
    hostName: string
    /** DPS applies its allocation policies to this linked hub (default true); false: only a static or listed choice. */
    applyAllocationPolicy: boolean
    /** The lowest-latency policy's stand-in for a measured latency (ms; default 0). */
    latencyMs: number
    /** Besides `iothubowner` (the service key, every right), which every hub has. */
    authorizationPolicies: SharedAccessPolicy[]
}

/** Where a hub policy's keys live in the secrets file. */
export const policySecretId = (hub: string, keyName: string) => `hubs/${hub}/${keyName}`

/** The `iothubowner`-style policy whose key signs requests to the service endpoint. */
export const SERVICE_POLICY = "iothubowner"
/** DPS's service policy (azure-iot-provisioning-service connection strings name it); it uses the same service key. */
export const DPS_SERVICE_POLICY = "provisioningserviceowner"
/** Where the service policy's keys live in the secrets file. */
export const SERVICE_SECRET_ID = "$iothubowner"
/** Where a configured device's keys live in the secrets file. */
export const deviceSecretId = (deviceId: string) => `devices/${deviceId}`

export interface EmulatorConfig {
    bind: string
    /** `service`: the HTTPS management endpoint (service/service-endpoint.ts). */
    /** `edge`: the first IoT Edge gateway; further ones listen on the next ports (0: any free port each). */
    ports: { mqtt: number; https: number; service: number; edge: number }
    /** PEM text or file paths (absolute after loading). */
    tls: { cert: string; key: string; ca?: string }
    dps: {
        idScope: string
        retryAfter: number
        /** The allocation policy of enrollments that name none and no iotHubHostName (DPS's default: hashed). */
        allocationPolicy: AllocationPolicy
        /** How long a custom allocation webhook may take before the registration fails. */
        webhookTimeoutMs: number
        /**
         * How bad credentials are answered. "connack": CONNACK 5 (strict MQTT). "register": the CONNECT
         * succeeds and every request gets 401 (errorCode 401002), as Azure DPS itself was seen to do;
         * only then does the official Node SDK report an UnauthorizedError.
         */
        authFailure: "connack" | "register"
    }
    hubs: HubConfig[]
    /** CA certificates uploaded to DPS at start; group enrollments name them in `caCertificate`. */
    certificates: CaCertificateConfig[]
    enrollments: Enrollment[]
    devices: DeviceIdentityConfig[]
    edges: EdgeGatewayConfig[]
    /** Store and forward while a gateway's uplink is down: how many messages, and for how long. */
    edge: { messageTtlSec: number; maxStoredMessages: number }
    /** Device-to-cloud messages the hubs keep for `telemetry()` (oldest dropped first), in bytes for the whole emulator. */
    telemetry: { retainedBytes: number }
    /** Keys of the service policy; without a primary key the management endpoint stays off. */
    service: { primaryKey?: string; secondaryKey?: string }
    /** Clock skew allowed on hub SAS tokens, also added to their expiry (IoT Hub: 300 s). */
    sasSkewSec: number
    /** Event Grid webhook subscriptions to the hubs' device events (service/event-grid.ts). */
    eventGrid: { subscriptions: EventGridSubscriptionConfig[] }
}

export const DEFAULT_TELEMETRY_RETAINED_BYTES = 16 * 1024 * 1024

export type SecretsFile = Record<string, { primaryKey: string; secondaryKey: string }>

export class ConfigError extends Error {}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"])

export function enrollmentId(e: Enrollment): string {
    return e.kind === "individual" ? e.registrationId : e.enrollmentGroupId
}

/** The individual enrollment of a registration id (case-insensitive, as in DPS). */
export function individualEnrollment(config: EmulatorConfig, registrationId: string): IndividualEnrollment | undefined {
    const id = registrationId.toLowerCase()
    return config.enrollments.find((e): e is IndividualEnrollment => e.kind === "individual" && e.registrationId.toLowerCase() === id)
}

/**
 * The shared access policies of a hub: those configured, and `iothubowner` with the service key and
 * every right (IoT Hub creates it with each hub) unless the hub configures its own.
 */
export function hubPolicies(config: EmulatorConfig, hubHostName: string): SharedAccessPolicy[] {
    const hub = config.hubs.find((h) => h.hostName.toLowerCase() === hubHostName.toLowerCase())
    const own = hub?.authorizationPolicies ?? []
    if (!config.service.primaryKey || own.some((p) => p.keyName === SERVICE_POLICY)) return own
    return [...own, { keyName: SERVICE_POLICY, rights: [...POLICY_RIGHTS], ...config.service }]
}

const THUMBPRINT = /^([0-9A-Fa-f]{2}:?){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/

/** Upper hex without separators, as Azure shows thumbprints. */
function normalizeThumbprint(t: string): string {
    return t.replace(/:/g, "").toUpperCase()
}

function selfSigned(cert: X509Certificate): boolean {
    try {
        return cert.checkIssued(cert) && cert.verify(cert.publicKey)
    } catch {
        return false
    }
}

/** Every reason the input is not a valid configuration, so a user fixes them in one go. */
function validate(raw: any, baseDir: string): EmulatorConfig {
    const problems: string[] = []
    const need = (ok: boolean, msg: string) => {
        if (!ok) problems.push(msg)
    }
    const isObj = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v)
    const isPort = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535
    const isNonNegInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0
    const isKey = (v: unknown) => typeof v === "string" && /^[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v, "base64").length >= 16

    need(isObj(raw), "config must be a JSON object")
    if (!isObj(raw)) throw new ConfigError(problems.join("; "))
    const bind = raw.bind ?? "127.0.0.1"
    need(LOOPBACK.has(bind), `bind must be a loopback address (127.0.0.1, localhost, ::1), not ${bind}`)
    const ports = { mqtt: raw.ports?.mqtt ?? 8883, https: raw.ports?.https ?? 8443, service: raw.ports?.service ?? 8444, edge: raw.ports?.edge ?? 8884 }
    need(Object.values(ports).every(isPort), "ports.mqtt, ports.https, ports.service and ports.edge must be 0..65535 (0 = any free port)")
    const tls = raw.tls ?? {}
    const pemOrPath = (v: unknown, name: string, required: boolean): string | undefined => {
        if (v === undefined && !required) return undefined
        need(typeof v === "string" && v.length > 0, `${name} must be a file path or PEM text`)
        if (typeof v !== "string") return undefined
        return v.includes("-----BEGIN") ? v : path.resolve(baseDir, v)
    }
    const cert = pemOrPath(tls.cert, "tls.cert", true)
    const key = pemOrPath(tls.key, "tls.key", true)
    const ca = pemOrPath(tls.ca, "tls.ca", false)
    const idScope = raw.dps?.idScope
    need(typeof idScope === "string" && /^[A-Za-z0-9]{1,64}$/.test(idScope), "dps.idScope must be alphanumeric, e.g. 0ne0000E4B1")
    const retryAfter = raw.dps?.retryAfter ?? 3
    need(isNonNegInt(retryAfter), "dps.retryAfter must be a whole number of seconds")
    const authFailure = raw.dps?.authFailure ?? "connack"
    need(authFailure === "connack" || authFailure === "register", 'dps.authFailure must be "connack" or "register"')
    const rawHubs: any[] = Array.isArray(raw.hubs) ? raw.hubs : []
    need(rawHubs.length > 0 && rawHubs.every((h) => typeof h?.hostName === "string" && h.hostName), "hubs must list at least one { hostName }")
    const hubs: HubConfig[] = rawHubs.map((h, i) => {
        need(h?.applyAllocationPolicy === undefined || typeof h.applyAllocationPolicy === "boolean", `hubs[${i}].applyAllocationPolicy must be true or false`)
        need(h?.latencyMs === undefined || isNonNegInt(h.latencyMs), `hubs[${i}].latencyMs must be a whole number of ms`)
        return {
            hostName: h?.hostName,
            applyAllocationPolicy: h?.applyAllocationPolicy ?? true,
            latencyMs: h?.latencyMs ?? 0,
            authorizationPolicies: policies(h?.authorizationPolicies, `hubs[${i}]`),
        }
    })
    const defaultPolicy = raw.dps?.allocationPolicy ?? "hashed"
    need(ALLOCATION_POLICIES.includes(defaultPolicy), `dps.allocationPolicy must be one of ${ALLOCATION_POLICIES.join(", ")}`)
    const webhookTimeoutMs = raw.dps?.webhookTimeoutMs ?? 10_000
    need(Number.isInteger(webhookTimeoutMs) && webhookTimeoutMs > 0, "dps.webhookTimeoutMs must be a whole number of ms > 0")
    const hubNames = hubs.map((h) => String(h.hostName).toLowerCase())
    /** The certificates of a PEM text or file (relative to the config file), or a problem. */
    const readCerts = (v: unknown, where: string): X509Certificate[] | undefined => {
        if (typeof v !== "string" || !v) return void problems.push(`${where} must be PEM text or a file path`)
        let text = v
        if (!v.includes("-----BEGIN")) {
            try {
                text = fs.readFileSync(path.resolve(baseDir, v), "utf8")
            } catch (e) {
                return void problems.push(`${where}: cannot read ${v}: ${(e as Error).message}`)
            }
        }
        try {
            return x509ParsePem(text)
        } catch (e) {
            return void problems.push(`${where}: ${(e as Error).message}`)
        }
    }
    const certificates: CaCertificateConfig[] = []
    // The same checks the upload makes at start, so a bad CA is a config error.
    const trialStore = new CaStore()
    for (const [i, c] of (Array.isArray(raw.certificates) ? raw.certificates : []).entries()) {
        const where = `certificates[${i}]`
        need(c?.verified === undefined || typeof c.verified === "boolean", `${where}.verified must be true or false`)
        if (typeof c?.name !== "string") {
            problems.push(`${where}.name must be a certificate name`)
            continue
        }
        need(!trialStore.get(c.name), `${where}: name ${c.name} is used twice`)
        const certs = readCerts(c?.cert, `${where}.cert`)
        if (!certs) continue
        const pem = certs.map((x) => x.toString()).join("\n")
        try {
            trialStore.upload(c.name, pem, c.verified ?? false)
            certificates.push({ name: c.name, pem, verified: c.verified ?? false })
        } catch (e) {
            if (!(e instanceof CaStoreError)) throw e
            problems.push(`${where}: ${e.message}`)
        }
    }
    /** `certificate` (PEM or path) or `thumbprint`, under `<prefix>Certificate` / `<prefix>Thumbprint`. */
    const enrolledCert = (att: any, certField: string, thumbField: string, where: string): X509EnrolledCert | undefined => {
        const cert = att[certField]
        const thumb = att[thumbField]
        if (cert !== undefined && thumb !== undefined) return void problems.push(`${where}: give ${certField} or ${thumbField}, not both`)
        if (thumb !== undefined) {
            if (typeof thumb === "string" && THUMBPRINT.test(thumb)) return { thumbprint: normalizeThumbprint(thumb) }
            return void problems.push(`${where}.${thumbField} must be a SHA-1 (40) or SHA-256 (64) hex thumbprint`)
        }
        if (cert === undefined) return undefined
        // A chain file is fine: its first certificate is the device's.
        const certs = readCerts(cert, `${where}.${certField}`)
        return certs && { certificate: certs[0] }
    }

    const enrollments: Enrollment[] = []
    const seen = new Set<string>()
    for (const [i, e] of (Array.isArray(raw.enrollments) ? raw.enrollments : []).entries()) {
        const where = `enrollments[${i}]`
        if (!isObj(e)) {
            problems.push(`${where} must be an object`)
            continue
        }
        const individual = typeof e.registrationId === "string"
        const id: unknown = individual ? e.registrationId : e.enrollmentGroupId
        need(typeof id === "string" && /^[A-Za-z0-9._:-]{1,128}$/.test(id), `${where} needs a registrationId or enrollmentGroupId (a-z 0-9 . _ : -)`)
        const idText = String(id).toLowerCase()
        need(!seen.has(idText), `${where}: id ${String(id)} is used twice`)
        seen.add(idText)
        const att = isObj(e.attestation) ? e.attestation : {}
        need(att.type === "symmetricKey" || att.type === "x509", `${where}.attestation.type must be symmetricKey or x509`)
        let attestation: IndividualEnrollment["attestation"] | GroupEnrollment["attestation"] | undefined
        if (att.type === "x509") {
            need(att.primaryKey === undefined && att.secondaryKey === undefined, `${where}: an x509 attestation has no keys`)
            attestation = individual ? individualX509(att, `${where}.attestation`, String(id)) : groupX509(att, `${where}.attestation`)
        } else {
            need(att.primaryKey === undefined || isKey(att.primaryKey), `${where}: primaryKey must be base64 of at least 16 bytes`)
            need(att.secondaryKey === undefined || isKey(att.secondaryKey), `${where}: secondaryKey must be base64 of at least 16 bytes`)
            attestation = { type: "symmetricKey", primaryKey: att.primaryKey, secondaryKey: att.secondaryKey }
        }
        const hub = e.iotHubHostName ?? hubs[0]?.hostName
        need(typeof hub === "string" && hubNames.includes(hub.toLowerCase()), `${where}.iotHubHostName must be one of hubs`)
        need(e.enabled === undefined || typeof e.enabled === "boolean", `${where}.enabled must be true or false`)
        const f = e.faults ?? {}
        need(isObj(f), `${where}.faults must be an object`)
        for (const k of ["retryAfter", "pollsBeforeAssigned", "throttle", "serverError"])
            need(f[k] === undefined || isNonNegInt(f[k]), `${where}.faults.${k} must be a whole number >= 0`)
        need(f.serverErrorStatus === undefined || [500, 503].includes(f.serverErrorStatus), `${where}.faults.serverErrorStatus must be 500 or 503`)
        const fa = f.failAllocation
        need(
            fa === undefined || (Number.isInteger(fa?.errorCode) && typeof fa?.errorMessage === "string"),
            `${where}.faults.failAllocation must be { errorCode: number, errorMessage: string }`
        )
        const base: EnrollmentBase = {
            iotHubHostName: hub,
            ...allocation(e, where),
            enabled: e.enabled ?? true,
            faults: { ...f },
        }
        if (individual) {
            need(e.deviceId === undefined || (typeof e.deviceId === "string" && e.deviceId.length > 0), `${where}.deviceId must be a string`)
            const a = attestation as IndividualEnrollment["attestation"]
            enrollments.push({ ...base, kind: "individual", registrationId: e.registrationId, deviceId: e.deviceId ?? e.registrationId, attestation: a })
        } else enrollments.push({ ...base, kind: "group", enrollmentGroupId: e.enrollmentGroupId, attestation: attestation as GroupEnrollment["attestation"] })
    }
    const devices: DeviceIdentityConfig[] = []
    for (const [i, d] of (Array.isArray(raw.devices) ? raw.devices : []).entries()) {
        const where = `devices[${i}]`
        // IoT Hub's device id alphabet.
        need(typeof d?.deviceId === "string" && /^[A-Za-z0-9\-:.+%_#*?!(),=@$']{1,128}$/.test(d.deviceId), `${where}.deviceId is not a valid device id`)
        const hub = d?.hub ?? hubs[0]?.hostName
        need(typeof hub === "string" && hubNames.includes(hub.toLowerCase()), `${where}.hub must be one of hubs`)
        const authentication = deviceAuthentication(d?.authentication, `${where}.authentication`)
        if (authentication?.type === "sas") {
            need(d?.primaryKey === undefined || isKey(d.primaryKey), `${where}: primaryKey must be base64 of at least 16 bytes`)
            need(d?.secondaryKey === undefined || isKey(d.secondaryKey), `${where}: secondaryKey must be base64 of at least 16 bytes`)
        } else need(d?.primaryKey === undefined && d?.secondaryKey === undefined, `${where}: keys are for SAS devices (authentication ${authentication?.type})`)
        const status = d?.status ?? "enabled"
        need(status === "enabled" || status === "disabled", `${where}.status must be enabled or disabled`)
        devices.push({
            deviceId: d?.deviceId,
            hub,
            authentication: authentication ?? { type: "sas" },
            primaryKey: d?.primaryKey,
            secondaryKey: d?.secondaryKey,
            status,
            parent: d?.parent,
        })
    }
    const edges: EdgeGatewayConfig[] = []
    for (const [i, e] of (Array.isArray(raw.edges) ? raw.edges : []).entries()) {
        const where = `edges[${i}]`
        const identity = devices.find((d) => d.deviceId === e?.deviceId)
        need(identity !== undefined, `${where}.deviceId must name one of devices (the edge device's identity)`)
        const hub = e?.hub ?? identity?.hub
        need(hub === identity?.hub, `${where}.hub must be the hub of its identity in devices`)
        const hostName = e?.hostName ?? "localhost"
        need(typeof hostName === "string" && /^[A-Za-z0-9.:-]{1,255}$/.test(hostName), `${where}.hostName must be a host name`)
        const edgeCert = pemOrPath(e?.tls?.cert, `${where}.tls.cert`, true)
        const edgeKey = pemOrPath(e?.tls?.key, `${where}.tls.key`, true)
        const port = ports.edge === 0 ? 0 : ports.edge + i
        edges.push({ deviceId: e?.deviceId, hub, hostName, tls: { cert: edgeCert!, key: edgeKey! }, port })
    }
    for (const [i, d] of devices.entries()) {
        const edge = edges.find((e) => e.deviceId === d.parent)
        need(d.parent === undefined || edge !== undefined, `devices[${i}].parent must name one of edges`)
        need(!edge || edge.hub === d.hub, `devices[${i}].parent is an edge device of another hub`)
    }
    const edge = { messageTtlSec: raw.edge?.messageTtlSec ?? 7200, maxStoredMessages: raw.edge?.maxStoredMessages ?? 1000 }
    need(Number.isInteger(edge.messageTtlSec) && edge.messageTtlSec > 0, "edge.messageTtlSec must be a whole number of seconds > 0")
    need(Number.isInteger(edge.maxStoredMessages) && edge.maxStoredMessages > 0, "edge.maxStoredMessages must be a whole number > 0")
    const telemetry = { retainedBytes: raw.telemetry?.retainedBytes ?? DEFAULT_TELEMETRY_RETAINED_BYTES }
    need(Number.isInteger(telemetry.retainedBytes) && telemetry.retainedBytes >= 0, "telemetry.retainedBytes must be a whole number of bytes")
    const service = { primaryKey: raw.service?.primaryKey, secondaryKey: raw.service?.secondaryKey }
    need(service.primaryKey === undefined || isKey(service.primaryKey), "service.primaryKey must be base64 of at least 16 bytes")
    need(service.secondaryKey === undefined || isKey(service.secondaryKey), "service.secondaryKey must be base64 of at least 16 bytes")
    const sasSkewSec = raw.sasSkewSec ?? 300
    need(isNonNegInt(sasSkewSec), "sasSkewSec must be a whole number of seconds")
    const subscriptions: EventGridSubscriptionConfig[] = raw.eventGrid?.subscriptions ?? []
    need(Array.isArray(subscriptions), "eventGrid.subscriptions must be a list")
    for (const [i, sub] of (Array.isArray(subscriptions) ? subscriptions : []).entries()) {
        const where = `eventGrid.subscriptions[${i}]`
        need(typeof sub?.name === "string" && /^[A-Za-z0-9-]{3,64}$/.test(sub.name), `${where}.name must be 3-64 letters, digits or hyphens (Event Grid's rule)`)
        need(typeof sub?.endpoint === "string" && sub.endpoint.startsWith("https://"), `${where}.endpoint must be an https:// webhook (Event Grid delivers over HTTPS only)`)
        need(sub?.includedEventTypes === undefined || (Array.isArray(sub.includedEventTypes) && sub.includedEventTypes.every((t: unknown) => EVENT_TYPES.includes(t as string))), `${where}.includedEventTypes must name ${EVENT_TYPES.join(", ")}`)
        need(sub?.maxDeliveryAttempts === undefined || (Number.isInteger(sub.maxDeliveryAttempts) && sub.maxDeliveryAttempts >= 1 && sub.maxDeliveryAttempts <= 30), `${where}.maxDeliveryAttempts must be 1..30`)
        need(sub?.eventTimeToLiveMinutes === undefined || (Number.isInteger(sub.eventTimeToLiveMinutes) && sub.eventTimeToLiveMinutes >= 1 && sub.eventTimeToLiveMinutes <= 1440), `${where}.eventTimeToLiveMinutes must be 1..1440`)
        need(sub?.retryDelaysMs === undefined || (Array.isArray(sub.retryDelaysMs) && sub.retryDelaysMs.length > 0 && sub.retryDelaysMs.every((n: unknown) => isNonNegInt(n))), `${where}.retryDelaysMs must be a list of whole milliseconds`)
    }
    if (problems.length) throw new ConfigError(problems.join("; "))
    return {
        bind,
        ports,
        tls: { cert: cert!, key: key!, ca },
        dps: { idScope, retryAfter, authFailure, allocationPolicy: defaultPolicy, webhookTimeoutMs },
        hubs,
        certificates,
        enrollments,
        devices,
        edges,
        edge,
        telemetry,
        service,
        sasSkewSec,
        eventGrid: { subscriptions },
    }

    function individualX509(att: any, where: string, registrationId: string): IndividualX509Attestation | undefined {
        need(att.caCertificate === undefined, `${where}.caCertificate is for group enrollments`)
        const primary = enrolledCert(att, "certificate", "thumbprint", where)
        const secondary = enrolledCert(att, "secondaryCertificate", "secondaryThumbprint", where)
        // DPS takes an individual X.509 enrollment's registration id from the certificate's CN.
        for (const c of [primary, secondary]) {
            const cn = c && "certificate" in c ? x509CommonName(c.certificate) : undefined
            need(!c || !("certificate" in c) || cn?.toLowerCase() === registrationId.toLowerCase(), `${where}: certificate CN ${JSON.stringify(cn)} is not the registration id ${registrationId}`)
        }
        if (!primary) {
            if (!problems.some((p) => p.startsWith(where))) problems.push(`${where} needs a certificate (PEM or path) or a thumbprint`)
            return undefined
        }
        return { type: "x509", primary, secondary }
    }

    function groupX509(att: any, where: string): GroupX509Attestation | undefined {
        need(att.thumbprint === undefined && att.secondaryCertificate === undefined && att.secondaryThumbprint === undefined, `${where}: thumbprints and secondary certificates are for individual enrollments`)
        if ((att.caCertificate === undefined) === (att.certificate === undefined))
            return void problems.push(`${where} needs caCertificate (a name in certificates) or certificate (an intermediate CA, PEM or path), one of them`)
        if (att.caCertificate !== undefined) {
            if (typeof att.caCertificate === "string" && att.caCertificate) return { type: "x509", ca: { caName: att.caCertificate } }
            return void problems.push(`${where}.caCertificate must name a CA certificate`)
        }
        const certs = readCerts(att.certificate, `${where}.certificate`)
        if (!certs) return undefined
        const ca = certs[0]
        if (!ca.ca) return void problems.push(`${where}.certificate is not a CA certificate (basicConstraints CA:TRUE)`)
        // A root proves possession first (DPS requires it): uploaded under certificates, then verified.
        if (selfSigned(ca))
            return void problems.push(`${where}.certificate is a root CA: add it to certificates and name it in caCertificate (it must be verified by proof of possession)`)
        return { type: "x509", ca: { certificate: ca } }
    }

    /**
     * An enrollment's allocation as DPS's service API writes it: `allocationPolicy`, `iotHubs`,
     * `customAllocationDefinition`, `reprovisionPolicy`, `initialTwin`. Without a policy, an enrollment naming
     * `iotHubHostName` is static (as before policies existed here), others take dps.allocationPolicy.
     */
    function allocation(e: any, where: string) {
        const allocationPolicy = e.allocationPolicy ?? (e.iotHubHostName !== undefined ? "static" : defaultPolicy)
        need(ALLOCATION_POLICIES.includes(allocationPolicy), `${where}.allocationPolicy must be one of ${ALLOCATION_POLICIES.join(", ")}`)
        const iotHubs = e.iotHubs
        need(iotHubs === undefined || (Array.isArray(iotHubs) && iotHubs.length > 0 && iotHubs.every((h: unknown) => typeof h === "string" && hubNames.includes(h.toLowerCase()))), `${where}.iotHubs must list some of hubs`)
        const c = e.customAllocationDefinition
        let customAllocationDefinition: EnrollmentBase["customAllocationDefinition"]
        if (allocationPolicy === "custom") {
            let url: URL | undefined
            try {
                url = new URL(c?.webhookUrl)
            } catch {}
            const loopback = url && /^https?:$/.test(url.protocol) && LOOPBACK.has(url.hostname.replace(/^\[|\]$/g, ""))
            need(!!loopback, `${where}.customAllocationDefinition.webhookUrl must be an http(s) URL on a loopback host`)
            customAllocationDefinition = { webhookUrl: c?.webhookUrl, apiVersion: c?.apiVersion ?? "2021-10-01" }
        } else need(c === undefined, `${where}.customAllocationDefinition is for allocationPolicy custom`)
        const r = e.reprovisionPolicy ?? {}
        need(isObj(r) && [r.updateHubAssignment, r.migrateDeviceData].every((v) => v === undefined || typeof v === "boolean"), `${where}.reprovisionPolicy must be { updateHubAssignment, migrateDeviceData } (true or false)`)
        const reprovisionPolicy = { updateHubAssignment: r.updateHubAssignment ?? true, migrateDeviceData: r.migrateDeviceData ?? true }
        const t = e.initialTwin
        need(t === undefined || (isObj(t) && (t.properties?.desired === undefined || isObj(t.properties.desired))), `${where}.initialTwin must be { properties: { desired: {...} } }`)
        const initialTwin = t === undefined ? undefined : { desired: { ...(t.properties?.desired ?? {}) } }
        return { allocationPolicy, iotHubs, customAllocationDefinition, reprovisionPolicy, initialTwin }
    }

    /** ARM's shape: `[{ keyName, rights: "RegistryRead, DeviceConnect" }]` (rights may also be an array). */
    function policies(list: unknown, where: string): SharedAccessPolicy[] {
        if (list === undefined) return []
        if (!Array.isArray(list)) {
            problems.push(`${where}.authorizationPolicies must be a list`)
            return []
        }
        return list.map((p: any, i): SharedAccessPolicy => {
            const at = `${where}.authorizationPolicies[${i}]`
            need(typeof p?.keyName === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(p.keyName), `${at}.keyName must be 1-64 of A-Z a-z 0-9 . _ -`)
            const rights = (Array.isArray(p?.rights) ? p.rights : String(p?.rights ?? "").split(",")).map((r: unknown) => String(r).trim())
            need(rights.length > 0 && rights.every((r: string) => (POLICY_RIGHTS as readonly string[]).includes(r)), `${at}.rights must list ${POLICY_RIGHTS.join(", ")}`)
            need(p?.primaryKey === undefined || isKey(p.primaryKey), `${at}: primaryKey must be base64 of at least 16 bytes`)
            need(p?.secondaryKey === undefined || isKey(p.secondaryKey), `${at}: secondaryKey must be base64 of at least 16 bytes`)
            return { keyName: p?.keyName, rights, primaryKey: p?.primaryKey, secondaryKey: p?.secondaryKey }
        })
    }

    function deviceAuthentication(a: any, where: string): DeviceAuthenticationConfig | undefined {
        if (a === undefined) return { type: "sas" }
        if (a?.type === "sas" || a?.type === "certificateAuthority") return { type: a.type }
        if (a?.type !== "selfSigned") return void problems.push(`${where}.type must be sas, selfSigned or certificateAuthority`)
        const ok = (t: unknown) => typeof t === "string" && THUMBPRINT.test(t)
        need(ok(a.primaryThumbprint), `${where}.primaryThumbprint must be a SHA-1 (40) or SHA-256 (64) hex thumbprint`)
        need(a.secondaryThumbprint === undefined || ok(a.secondaryThumbprint), `${where}.secondaryThumbprint must be a SHA-1 (40) or SHA-256 (64) hex thumbprint`)
        if (!ok(a.primaryThumbprint)) return undefined
        return {
            type: "selfSigned",
            primaryThumbprint: normalizeThumbprint(a.primaryThumbprint),
            secondaryThumbprint: a.secondaryThumbprint === undefined ? undefined : normalizeThumbprint(a.secondaryThumbprint),
        }
    }
}

/** Validates a configuration given in code (enrollment kinds inferred from their id field). */
export function validateConfig(raw: unknown, baseDir = process.cwd()): EmulatorConfig {
    return validate(raw, baseDir)
}

/**
 * One enrollment written as the config file writes it (certificates as PEM text only), checked by the very rules
 * the config's enrollments go through: the service API's enrollments are no less valid than the file's.
 */
export function validateEnrollment(config: EmulatorConfig, raw: unknown): Enrollment {
    const pemOnly = (v: unknown) => typeof v !== "string" || v.includes("-----BEGIN")
    const att = (raw as any)?.attestation ?? {}
    // A path would make the emulator read a file the caller names: the API takes certificates themselves.
    if (![att.certificate, att.secondaryCertificate].every(pemOnly)) throw new ConfigError("certificates must be PEM text")
    const shell = {
        bind: config.bind,
        ports: config.ports,
        tls: { cert: config.tls.cert, key: config.tls.key },
        dps: config.dps,
        hubs: config.hubs.map((h) => ({ hostName: h.hostName, applyAllocationPolicy: h.applyAllocationPolicy, latencyMs: h.latencyMs })),
        enrollments: [raw],
    }
    try {
        return validate(shell, process.cwd()).enrollments[0]
    } catch (e) {
        throw e instanceof ConfigError ? new ConfigError(e.message.replaceAll("enrollments[0]", "enrollment")) : e
    }
}

function readJson(file: string): unknown {
    let text: string
    try {
        text = fs.readFileSync(file, "utf8")
    } catch (e) {
        throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`)
    }
    try {
        return JSON.parse(text)
    } catch (e) {
        throw new ConfigError(`${file} is not valid JSON: ${(e as Error).message}`)
    }
}

function readSecrets(file: string): SecretsFile {
    if (!fs.existsSync(file)) return {}
    const secrets = readJson(file)
    if (typeof secrets !== "object" || secrets === null || Array.isArray(secrets))
        throw new ConfigError(`${file} must map enrollment ids to { primaryKey, secondaryKey }`)
    return secrets as SecretsFile
}

/** Keys from the secrets file fill in keys the config file leaves out. */
function withSecrets(raw: any, secrets: SecretsFile): any {
    if (typeof raw !== "object" || raw === null) return raw
    const fill = (o: any, s?: { primaryKey: string; secondaryKey: string }) =>
        s ? { ...o, primaryKey: o?.primaryKey ?? s.primaryKey, secondaryKey: o?.secondaryKey ?? s.secondaryKey } : o
    const sas = (d: any) => d?.authentication === undefined || d.authentication?.type === "sas"
    const devices = Array.isArray(raw.devices) ? raw.devices.map((d: any) => (sas(d) ? fill(d, secrets[deviceSecretId(d?.deviceId)]) : d)) : raw.devices
    const service = fill(raw.service ?? {}, secrets[SERVICE_SECRET_ID])
    const hubs = !Array.isArray(raw.hubs) ? raw.hubs : raw.hubs.map((h: any) =>
        !Array.isArray(h?.authorizationPolicies) ? h : { ...h, authorizationPolicies: h.authorizationPolicies.map((p: any) => fill(p, secrets[policySecretId(h.hostName, p?.keyName)])) }
    )
    const enrollments = !Array.isArray(raw.enrollments) ? raw.enrollments : raw.enrollments.map((e: any) => {
        const s = secrets[e?.registrationId ?? e?.enrollmentGroupId]
        if (!s || e.attestation?.type === "x509") return e
        const att = e.attestation ?? {}
        return {
            ...e,
            attestation: { ...att, primaryKey: att.primaryKey ?? s.primaryKey, secondaryKey: att.secondaryKey ?? s.secondaryKey },
        }
    })
    return { ...raw, hubs, enrollments, devices, service }
}

export function loadConfig(configFile: string, secretsFile?: string): EmulatorConfig {
    const secrets = secretsFile ? readSecrets(secretsFile) : {}
    return validate(withSecrets(readJson(configFile), secrets), path.dirname(path.resolve(configFile)))
}

function newKey(): string {
    return randomBytes(64).toString("base64")
}

/**
 * Like `az iot dps enrollment create` / `az iot hub device-identity create`: random 64-byte keys for
 * enrollments, devices and the service policy that have none, saved to the secrets file (0600, merged
 * with what it holds). Returns the completed config.
 */
export function generateMissingKeys(config: EmulatorConfig, secretsFile: string): EmulatorConfig {
    const secrets = readSecrets(secretsFile)
    let changed = false
    const complete = <T extends { primaryKey?: string; secondaryKey?: string }>(id: string, keys: T): T => {
        if (keys.primaryKey && keys.secondaryKey) return keys
        const saved = secrets[id]
        const primaryKey = keys.primaryKey ?? saved?.primaryKey ?? newKey()
        const secondaryKey = keys.secondaryKey ?? saved?.secondaryKey ?? newKey()
        if (!saved || saved.primaryKey !== primaryKey || saved.secondaryKey !== secondaryKey) {
            secrets[id] = { primaryKey, secondaryKey }
            changed = true
        }
        return { ...keys, primaryKey, secondaryKey }
    }
    // X.509 enrollments and devices have no keys.
    const enrollments = config.enrollments.map((e) =>
        e.attestation.type === "symmetricKey" ? ({ ...e, attestation: complete(enrollmentId(e), e.attestation) } as Enrollment) : e
    )
    const devices = config.devices.map((d) => (d.authentication.type === "sas" ? complete(deviceSecretId(d.deviceId), d) : d))
    const service = complete(SERVICE_SECRET_ID, config.service)
    const hubs = config.hubs.map((h) => ({ ...h, authorizationPolicies: h.authorizationPolicies.map((p) => complete(policySecretId(h.hostName, p.keyName), p)) }))
    if (changed) {
        fs.mkdirSync(path.dirname(secretsFile), { recursive: true })
        const tmp = `${secretsFile}.${process.pid}.tmp`
        fs.writeFileSync(tmp, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 })
        fs.renameSync(tmp, secretsFile)
    }
    return { ...config, hubs, enrollments, devices, service }
}

/** The SAS enrollments and devices that still have no primary key (the emulator refuses to start with any). */
export function enrollmentsWithoutKeys(config: EmulatorConfig): string[] {
    const devices = config.devices.filter((d) => d.authentication.type === "sas" && !d.primaryKey).map((d) => deviceSecretId(d.deviceId))
    const enrollments = config.enrollments.filter((e) => e.attestation.type === "symmetricKey" && !e.attestation.primaryKey)
    return [...enrollments.map(enrollmentId), ...devices]
}
