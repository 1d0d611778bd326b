// The emulator's configuration as one zod schema: the types below are inferred from it, so the
// shape, the defaults and the checks of each setting are written once. Certificate checks
// (certificates.ts) and cross-references between settings (references.ts) are explicit code
// plugged into it. The schema reads no file: certificate paths go through `files` (load.ts).
import { X509Certificate } from "crypto"
import { z } from "zod"
import { EVENT_TYPES } from "../service/event-grid"
import { ConfigFiles, caCertificateUpload, certificatesField, checkCommonNames, groupCa } from "./certificates"
import { checkReferences } from "./references"

/** DPS's allocation policies (`geoLatency` is "lowest latency"; here a stand-in, see hubs[].latencyMs). */
export const ALLOCATION_POLICIES = ["hashed", "geoLatency", "static", "custom"] as const
export type AllocationPolicy = (typeof ALLOCATION_POLICIES)[number]

/** IoT Hub's permissions (ARM `authorizationPolicies[].rights`); devices need DeviceConnect. */
export const POLICY_RIGHTS = ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] as const
export type PolicyRight = (typeof POLICY_RIGHTS)[number]

export const DEFAULT_TELEMETRY_RETAINED_BYTES = 16 * 1024 * 1024

const LOOPBACK = ["127.0.0.1", "localhost", "::1"] as const

/** X.509 attestations carry no keys (declared so any attestation's keys read as possibly undefined). */
interface NoKeys {
    primaryKey?: undefined
    secondaryKey?: undefined
}

/** One enrolled device certificate: the certificate itself, or its SHA-1 / SHA-256 thumbprint (upper hex). */
export type X509EnrolledCert = { certificate: X509Certificate } | { thumbprint: string }

/**
 * A group X.509 enrollment's CA: a certificate uploaded to DPS by name (`certificates`, or the
 * service side), which must be verified when devices register; or an intermediate CA put into the
 * group directly (DPS asks no proof of possession for those).
 */
export type X509GroupCa = { caName: string } | { certificate: X509Certificate }

const wholeNumber = (what: string) => z.int({ error: `must be a whole number of ${what}` }).min(0, { error: `must be a whole number of ${what}` })
const positive = (what: string) => z.int({ error: `must be a whole number of ${what} > 0` }).min(1, { error: `must be a whole number of ${what} > 0` })
const flag = z.boolean({ error: "must be true or false" })
const oneOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `must be one of ${values.join(", ")}` })
/** A section with required settings: left out, it is checked as {} so each missing setting is named. */
const section = <S extends z.ZodObject>(schema: S) => schema.prefault({} as z.input<S>)
/** Something that must not be there, and why. */
const absent = (why: string) => z.never({ error: why }).optional()

const KEY_MESSAGE = "must be base64 of at least 16 bytes"
const sasKey = z
    .string({ error: KEY_MESSAGE })
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, { error: KEY_MESSAGE })
    .refine((v) => Buffer.from(v, "base64").length >= 16, { error: KEY_MESSAGE })
const keys = { primaryKey: sasKey.optional(), secondaryKey: sasKey.optional() }

const THUMBPRINT = /^([0-9A-Fa-f]{2}:?){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/
const THUMBPRINT_MESSAGE = "must be a SHA-1 (40) or SHA-256 (64) hex thumbprint"
/** Upper hex without separators, as Azure shows thumbprints. */
const thumbprint = z
    .string({ error: THUMBPRINT_MESSAGE })
    .regex(THUMBPRINT, { error: THUMBPRINT_MESSAGE })
    .transform((t) => t.replace(/:/g, "").toUpperCase())

const port = z.int({ error: "must be 0..65535 (0 = any free port)" }).min(0).max(65535, { error: "must be 0..65535 (0 = any free port)" })

function loopbackUrl(v: string): boolean {
    try {
        const url = new URL(v)
        return /^https?:$/.test(url.protocol) && (LOOPBACK as readonly string[]).includes(url.hostname.replace(/^\[|\]$/g, ""))
    } catch {
        return false
    }
}

/** Per-enrollment misbehaviour, so one emulator serves many test scenarios at once. Counted per registration id. */
const faults = z
    .object(
        {
            /** Seconds in `retry-after` (default: dps.retryAfter). */
            retryAfter: wholeNumber("seconds").optional(),
            /** How many polls are answered 202 `assigning` before the result (default 1, like DPS). */
            pollsBeforeAssigned: wholeNumber("polls").optional(),
            /** The first N register requests are answered 429 (errorCode 429001). */
            throttle: wholeNumber("requests").optional(),
            /** The first N register requests (after any throttling) are answered with serverErrorStatus. */
            serverError: wholeNumber("requests").optional(),
            serverErrorStatus: z.literal([500, 503], { error: "must be 500 or 503" }).optional(),
            /** Allocation ends in a 200 with status `failed` and these details. */
            failAllocation: z
                .object({ errorCode: z.int(), errorMessage: z.string() }, { error: "must be { errorCode: number, errorMessage: string }" })
                .optional(),
        },
        { error: "must be an object" }
    )
    .prefault({})
export type EnrollmentFaults = z.output<typeof faults>

const REPROVISION_MESSAGE = "must be { updateHubAssignment, migrateDeviceData } (true or false)"

/**
 * An enrollment's allocation as DPS's service API writes it. Without `allocationPolicy`, an
 * enrollment naming `iotHubHostName` is static, others take dps.allocationPolicy (set in `complete`).
 */
const enrollmentBase = {
    /** The static policy's hub (default: the first hub). */
    iotHubHostName: z.string({ error: "must be one of hubs" }).optional(),
    allocationPolicy: oneOf(ALLOCATION_POLICIES).optional(),
    /** The linked hubs this enrollment may allocate to (default: every hub that applies allocation policies). */
    iotHubs: z.array(z.string(), { error: "must list some of hubs" }).min(1, { error: "must list some of hubs" }).optional(),
    /** custom: the webhook (loopback http or https) DPS posts its AllocationRequest to. */
    customAllocationDefinition: z
        .object({
            webhookUrl: z.string().refine(loopbackUrl, { error: "must be an http(s) URL on a loopback host" }),
            apiVersion: z.string().default("2021-10-01"),
        })
        .optional(),
    /** What DPS does when an assigned device registers again. */
    reprovisionPolicy: z
        .object(
            {
                /** false: never re-assign (the device keeps its hub). */
                updateHubAssignment: z.boolean({ error: REPROVISION_MESSAGE }).default(true),
                /** true: the twin moves with the device; false: it is reset to the enrollment's initialTwin. */
                migrateDeviceData: z.boolean({ error: REPROVISION_MESSAGE }).default(true),
            },
            { error: REPROVISION_MESSAGE }
        )
        .prefault({}),
    /** The twin an enrollment gives a device when DPS first assigns it (desired properties; tags are not modelled). */
    initialTwin: z
        .object(
            { properties: z.object({ desired: z.record(z.string(), z.unknown()).optional() }).optional() },
            { error: "must be { properties: { desired: {...} } }" }
        )
        .transform((t) => ({ desired: { ...t.properties?.desired } }))
        .optional(),
    enabled: flag.default(true),
    faults,
}

const ID_MESSAGE = "must be 1-128 of a-z 0-9 . _ : -"
const enrollmentIdField = z.string({ error: ID_MESSAGE }).regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: ID_MESSAGE })

const symmetricKeyAttestation = z.object({ type: z.literal("symmetricKey"), ...keys })
export type SymmetricKeyAttestation = z.output<typeof symmetricKeyAttestation>

const NO_KEYS = "must be left out: an x509 attestation has no keys"

function attestationSchema(files: ConfigFiles) {
    const certs = certificatesField(files)
    /** An individual X.509 enrollment: the device's own certificate (CN = registration id), and optionally a second one. */
    const individual = z
        .object({
            type: z.literal("x509"),
            certificate: certs.optional(),
            thumbprint: thumbprint.optional(),
            secondaryCertificate: certs.optional(),
            secondaryThumbprint: thumbprint.optional(),
            caCertificate: absent("is for group enrollments"),
            primaryKey: absent(NO_KEYS),
            secondaryKey: absent(NO_KEYS),
        })
        .transform((a, ctx) => {
            const enrolled = (cert: X509Certificate[] | undefined, thumb: string | undefined, names: string): X509EnrolledCert | undefined => {
                if (cert && thumb) ctx.issues.push({ code: "custom", message: `give ${names}, not both`, input: a })
                // A chain file is fine: its first certificate is the device's.
                return cert ? { certificate: cert[0] } : thumb ? { thumbprint: thumb } : undefined
            }
            const primary = enrolled(a.certificate, a.thumbprint, "certificate or thumbprint")
            const secondary = enrolled(a.secondaryCertificate, a.secondaryThumbprint, "secondaryCertificate or secondaryThumbprint")
            if (!primary) {
                ctx.issues.push({ code: "custom", message: "needs a certificate (PEM or path) or a thumbprint", input: a })
                return z.NEVER
            }
            return { type: "x509", primary, ...(secondary && { secondary }) } as {
                type: "x509"
                primary: X509EnrolledCert
                secondary?: X509EnrolledCert
            } & NoKeys
        })
    const FOR_INDIVIDUAL = "is for individual enrollments (thumbprints and secondary certificates)"
    const group = z
        .object({
            type: z.literal("x509"),
            /** A name in `certificates` (or uploaded by the service side). */
            caCertificate: z.string({ error: "must name a CA certificate" }).min(1, { error: "must name a CA certificate" }).optional(),
            /** An intermediate CA, PEM or path. */
            certificate: certs.optional(),
            thumbprint: absent(FOR_INDIVIDUAL),
            secondaryCertificate: absent(FOR_INDIVIDUAL),
            secondaryThumbprint: absent(FOR_INDIVIDUAL),
            primaryKey: absent(NO_KEYS),
            secondaryKey: absent(NO_KEYS),
        })
        .transform((a, ctx) => {
            const ca = groupCa(a.caCertificate, a.certificate, ctx)
            return ca ? ({ type: "x509", ca } as { type: "x509"; ca: X509GroupCa } & NoKeys) : z.NEVER
        })
    const TYPE_MESSAGE = "must be symmetricKey or x509"
    return {
        individual: z.discriminatedUnion("type", [symmetricKeyAttestation, individual], { error: TYPE_MESSAGE }),
        group: z.discriminatedUnion("type", [symmetricKeyAttestation, group], { error: TYPE_MESSAGE }),
    }
}

function enrollmentSchema(files: ConfigFiles) {
    const attestation = attestationSchema(files)
    const individual = z
        .object({
            kind: z.literal("individual"),
            registrationId: enrollmentIdField,
            /** Default: the registration id. */
            deviceId: z.string({ error: "must be a device id" }).min(1, { error: "must be a device id" }).optional(),
            attestation: attestation.individual,
            ...enrollmentBase,
        })
        .superRefine(checkCommonNames)
    const group = z.object({ kind: z.literal("group"), enrollmentGroupId: enrollmentIdField, attestation: attestation.group, ...enrollmentBase })
    const enrollment = z.discriminatedUnion("kind", [individual, group], { error: "must be an object with a registrationId or enrollmentGroupId" })
    // The kind follows from the id field, as in DPS's two enrollment APIs.
    const tag = (e: EnrollmentInput<z.input<typeof enrollment>>) =>
        typeof e === "object" && e !== null && !Array.isArray(e) ? { ...e, kind: "registrationId" in e ? "individual" : "group" } : e
    return z.pipe(z.transform(tag), enrollment)
}

/** An enrollment as written: its kind is not, it follows from the id field. */
type EnrollmentInput<T> = T extends unknown ? Omit<T, "kind"> : never

/** How a hub identity authenticates (`az iot hub device-identity create --am ...`). */
const deviceAuthentication = z.discriminatedUnion(
    "type",
    [
        z.object({ type: z.literal("sas") }),
        z.object({ type: z.literal("selfSigned"), primaryThumbprint: thumbprint, secondaryThumbprint: thumbprint.optional() }),
        z.object({ type: z.literal("certificateAuthority") }),
    ],
    { error: "must be sas, selfSigned or certificateAuthority" }
)
export type DeviceAuthenticationConfig = z.output<typeof deviceAuthentication>

/** A hub device identity created up front, as `az iot hub device-identity create` does. */
const device = z
    .object({
        // IoT Hub's device id alphabet.
        deviceId: z.string({ error: "is not a valid device id" }).regex(/^[A-Za-z0-9\-:.+%_#*?!(),=@$']{1,128}$/, { error: "is not a valid device id" }),
        /** Default: the first hub. */
        hub: z.string({ error: "must be one of hubs" }).optional(),
        authentication: deviceAuthentication.default({ type: "sas" }),
        /** SAS devices only. */
        ...keys,
        status: z.enum(["enabled", "disabled"], { error: "must be enabled or disabled" }).default("enabled"),
        /** The IoT Edge device this one is a child of (`az iot hub device-identity parent set`). */
        parent: z.string().optional(),
    })
    .superRefine((d, ctx) => {
        if (d.authentication.type !== "sas" && (d.primaryKey !== undefined || d.secondaryKey !== undefined))
            ctx.addIssue({ code: "custom", message: `keys are for SAS devices (authentication ${d.authentication.type})` })
    })

/** A hub's shared access policy: a key name, its rights and its keys (from the config or the secrets file). */
const sharedAccessPolicy = z.object({
    keyName: z.string({ error: "must be 1-64 of A-Z a-z 0-9 . _ -" }).regex(/^[A-Za-z0-9._-]{1,64}$/, { error: "must be 1-64 of A-Z a-z 0-9 . _ -" }),
    /** ARM's shape: "RegistryRead, DeviceConnect" (an array also works). */
    rights: z
        .union([z.string(), z.array(z.string())], { error: `must list ${POLICY_RIGHTS.join(", ")}` })
        .transform((r) => (Array.isArray(r) ? r : r.split(",")).map((x) => x.trim()))
        .pipe(z.array(z.enum(POLICY_RIGHTS, { error: `must list ${POLICY_RIGHTS.join(", ")}` })).min(1)),
    ...keys,
})
export type SharedAccessPolicy = z.output<typeof sharedAccessPolicy>

const hub = z.object(
    {
        hostName: z.string({ error: "must be a host name" }).min(1, { error: "must be a host name" }),
        /** DPS applies its allocation policies to this linked hub (default true); false: only a static or listed choice. */
        applyAllocationPolicy: flag.default(true),
        /** The lowest-latency policy's stand-in for a measured latency (ms; default 0). */
        latencyMs: wholeNumber("ms").default(0),
        /** Besides `iothubowner` (the service key, every right), which every hub has. */
        authorizationPolicies: z.array(sharedAccessPolicy, { error: "must be a list" }).default([]),
    },
    { error: "must be { hostName }" }
)
export type HubConfig = z.output<typeof hub>

/** Event Grid webhook subscriptions to the hubs' device events (service/event-grid.ts). */
const eventGridSubscription = z.object({
    name: z.string().regex(/^[A-Za-z0-9-]{3,64}$/, { error: "must be 3-64 letters, digits or hyphens (Event Grid's rule)" }),
    /** https:// webhook; the emulator verifies its certificate (system roots and `tls.ca`). */
    endpoint: z.string().startsWith("https://", { error: "must be an https:// webhook (Event Grid delivers over HTTPS only)" }),
    /** Event types delivered (all five when absent). */
    includedEventTypes: z.array(z.enum(EVENT_TYPES as [string, ...string[]]), { error: `must name ${EVENT_TYPES.join(", ")}` }).optional(),
    /** Event Grid's defaults: 30 attempts, 1440 minutes. */
    maxDeliveryAttempts: z.int({ error: "must be 1..30" }).min(1, { error: "must be 1..30" }).max(30, { error: "must be 1..30" }).optional(),
    eventTimeToLiveMinutes: z.int({ error: "must be 1..1440" }).min(1, { error: "must be 1..1440" }).max(1440, { error: "must be 1..1440" }).optional(),
    /** The waits between attempts; Event Grid's schedule unless set (tests shorten it). */
    retryDelaysMs: z
        .array(wholeNumber("milliseconds"), { error: "must be a list of whole milliseconds" })
        .min(1, { error: "must be a list of whole milliseconds" })
        .optional(),
})

/** The configuration file's document; `files` resolves TLS paths and reads certificates (load.ts). */
function documentSchema(files: ConfigFiles) {
    const pemOrPath = z
        .string({ error: "must be a file path or PEM text" })
        .min(1, { error: "must be a file path or PEM text" })
        .transform((v) => files.resolve(v))
    const certs = certificatesField(files)
    return z.object(
        {
            bind: z.enum(LOOPBACK, { error: (i) => `must be a loopback address (${LOOPBACK.join(", ")}), not ${String(i.input)}` }).default("127.0.0.1"),
            /** `service`: the HTTPS management endpoint; `edge`: the first IoT Edge gateway, further ones on the next ports (0: any free port each). */
            ports: z.object({ mqtt: port.default(8883), https: port.default(8443), service: port.default(8444), edge: port.default(8884) }).prefault({}),
            /** PEM text or file paths (absolute after loading). */
            tls: section(z.object({ cert: pemOrPath, key: pemOrPath, ca: pemOrPath.optional() })),
            dps: section(
                z.object({
                    idScope: z
                        .string({ error: "must be alphanumeric, e.g. 0ne0000E4B1" })
                        .regex(/^[A-Za-z0-9]{1,64}$/, { error: "must be alphanumeric, e.g. 0ne0000E4B1" }),
                    retryAfter: wholeNumber("seconds").default(3),
                    /** The allocation policy of enrollments that name none and no iotHubHostName (DPS's default: hashed). */
                    allocationPolicy: oneOf(ALLOCATION_POLICIES).default("hashed"),
                    /** How long a custom allocation webhook may take before the registration fails. */
                    webhookTimeoutMs: positive("ms").default(10_000),
                    /**
                     * How bad credentials are answered. "connack": CONNACK 5 (strict MQTT). "register": the CONNECT
                     * succeeds and every request gets 401 (errorCode 401002), as Azure DPS itself was seen to do;
                     * only then does the official Node SDK report an UnauthorizedError.
                     */
                    authFailure: z.enum(["connack", "register"], { error: 'must be "connack" or "register"' }).default("connack"),
                })
            ),
            hubs: z.array(hub, { error: "must list at least one { hostName }" }).min(1, { error: "must list at least one { hostName }" }),
            /** CA certificates uploaded to DPS at start (`az iot dps certificate create [--verified]`); group enrollments name them in `caCertificate`. */
            certificates: z
                .array(
                    z
                        .object({ name: z.string({ error: "must be a certificate name" }), cert: certs, verified: flag.default(false) })
                        .transform((c, ctx) => caCertificateUpload(c, ctx)),
                    { error: "must be a list" }
                )
                .default([]),
            enrollments: z.array(enrollmentSchema(files), { error: "must be a list" }).default([]),
            devices: z.array(device, { error: "must be a list" }).default([]),
            /** IoT Edge devices acting as transparent gateways: their own TLS endpoint (the edge PKI) in front of their hub. */
            edges: z
                .array(
                    z.object({
                        /** The edge device's identity in `devices` (its hub is that identity's hub). */
                        deviceId: z.string({ error: "must name one of devices (the edge device's identity)" }),
                        hub: z.string().optional(),
                        /** The gateway host name leaves connect to (`GatewayHostName`); also accepted as SAS audience. */
                        hostName: z
                            .string({ error: "must be a host name" })
                            .regex(/^[A-Za-z0-9.:-]{1,255}$/, { error: "must be a host name" })
                            .default("localhost"),
                        /** The edgeHub certificate chain and key: PEM text or file paths (absolute after loading). */
                        tls: section(z.object({ cert: pemOrPath, key: pemOrPath })),
                    }),
                    { error: "must be a list" }
                )
                .default([]),
            /** Store and forward while a gateway's uplink is down: how many messages, and for how long. */
            edge: z.object({ messageTtlSec: positive("seconds").default(7200), maxStoredMessages: positive("messages").default(1000) }).prefault({}),
            /** Device-to-cloud messages the hubs keep for `telemetry()` (oldest dropped first), in bytes for the whole emulator. */
            telemetry: z.object({ retainedBytes: wholeNumber("bytes").default(DEFAULT_TELEMETRY_RETAINED_BYTES) }).prefault({}),
            /** Keys of the service policy; without a primary key the management endpoint stays off. */
            service: z.object(keys).prefault({}),
            /** Clock skew allowed on hub SAS tokens, also added to their expiry (IoT Hub: 300 s). */
            sasSkewSec: wholeNumber("seconds").default(300),
            eventGrid: z.object({ subscriptions: z.array(eventGridSubscription, { error: "must be a list" }).default([]) }).prefault({}),
        },
        { error: "must be a JSON object" }
    )
}

/**
 * The configuration: the document, its cross-references checked even when other settings are
 * wrong (so every problem is named at once), then completed.
 */
export function configSchema(files: ConfigFiles) {
    return documentSchema(files)
        .check(z.superRefine(checkReferences, { when: () => true }))
        .transform(complete)
}

/** Fills in what defaults to another setting: hubs, allocation policies, device ids, edge ports. */
function complete(c: z.output<ReturnType<typeof documentSchema>>) {
    const firstHub = c.hubs[0].hostName
    const enrollments = c.enrollments.map((e) => {
        const allocationPolicy = e.allocationPolicy ?? (e.iotHubHostName !== undefined ? "static" : c.dps.allocationPolicy)
        const common = { iotHubHostName: e.iotHubHostName ?? firstHub, allocationPolicy }
        return e.kind === "individual" ? { ...e, ...common, deviceId: e.deviceId ?? e.registrationId } : { ...e, ...common }
    })
    const devices = c.devices.map((d) => ({ ...d, hub: d.hub ?? firstHub }))
    const edges = c.edges.map((e, i) => ({
        ...e,
        hub: e.hub ?? devices.find((d) => d.deviceId === e.deviceId)!.hub,
        port: c.ports.edge === 0 ? 0 : c.ports.edge + i,
    }))
    return { ...c, enrollments, devices, edges }
}

export type EmulatorConfig = z.output<ReturnType<typeof configSchema>>
export type Enrollment = EmulatorConfig["enrollments"][number]
export type IndividualEnrollment = Extract<Enrollment, { kind: "individual" }>
export type GroupEnrollment = Extract<Enrollment, { kind: "group" }>
export type IndividualX509Attestation = Extract<IndividualEnrollment["attestation"], { type: "x509" }>
export type GroupX509Attestation = Extract<GroupEnrollment["attestation"], { type: "x509" }>
export type DeviceIdentityConfig = EmulatorConfig["devices"][number]
export type EdgeGatewayConfig = EmulatorConfig["edges"][number]
export type CaCertificateConfig = EmulatorConfig["certificates"][number]
export type ReprovisionPolicy = Enrollment["reprovisionPolicy"]
export type InitialTwin = NonNullable<Enrollment["initialTwin"]>

/** A configuration as written (before defaults and checks): what tests and code build. */
export type EmulatorConfigInput = z.input<ReturnType<typeof configSchema>>
