// `az iot dps enrollment` / `enrollment-group` and `az iot hub device-identity update` for the service CLI:
// az's flags turned into DPS's and IoT Hub's REST bodies, sent through ServiceClient.azure (the same API the
// official SDKs use). As az does: keys are shown only with --show-keys (DPS's GET never returns them),
// updates read the entity and write it back with its ETag (or --etag), and a flag a command does not take is refused.
import * as fs from "fs"
import { ServiceClient } from "./service-client"

/** The long names of the flags each command takes (besides --config, --secrets, -n). */
const ENROLLMENT_FLAGS = [
    "provisioning-status",
    "iot-hubs",
    "allocation-policy",
    "initial-twin-properties",
    "props",
    "reprovision-policy",
    "webhook-url",
    "primary-key",
    "secondary-key",
    "certificate-path",
    "secondary-certificate-path",
]
export const COMMAND_FLAGS: Record<string, string[]> = {
    "dps enrollment list": [],
    "dps enrollment show": ["enrollment-id", "show-keys"],
    "dps enrollment create": ["enrollment-id", "attestation-type", "device-id", ...ENROLLMENT_FLAGS],
    "dps enrollment update": ["enrollment-id", "device-id", "etag", ...ENROLLMENT_FLAGS],
    "dps enrollment delete": ["enrollment-id", "etag"],
    "dps enrollment-group list": [],
    "dps enrollment-group show": ["enrollment-id", "group-id", "show-keys"],
    "dps enrollment-group create": ["enrollment-id", "group-id", "root-ca-name", ...ENROLLMENT_FLAGS],
    "dps enrollment-group update": ["enrollment-id", "group-id", "root-ca-name", "etag", ...ENROLLMENT_FLAGS],
    "dps enrollment-group delete": ["enrollment-id", "group-id", "etag"],
    "device update": ["device-id", "status", "primary-key", "secondary-key", "etag"],
}
const COMMON_FLAGS = ["config", "secrets", "hub-name"]

const ALLOCATION: Record<string, string> = { hashed: "hashed", geolatency: "geoLatency", static: "static", custom: "custom" }
const REPROVISION: Record<string, object> = {
    reprovisionandmigratedata: { updateHubAssignment: true, migrateDeviceData: true },
    reprovisionandresetdata: { updateHubAssignment: true, migrateDeviceData: false },
    never: { updateHubAssignment: false, migrateDeviceData: false },
}

function oneOf(o: Map<string, string>, flag: string, values: string[]): string | undefined {
    const v = o.get(flag)
    if (v !== undefined && !values.includes(v.toLowerCase())) throw new Error(`--${flag} takes ${values.join(", ")}`)
    return v?.toLowerCase()
}

/** A certificate file as the service endpoint takes it: PEM text, or DER as base64. */
export function readCertificate(file: string): string {
    const bytes = fs.readFileSync(file)
    const text = bytes.toString("utf8")
    return text.includes("-----BEGIN") ? text : bytes.toString("base64")
}

/** Applies the flags given to a DPS enrollment body (a new one, or one read for an update). */
function applyFlags(body: any, o: Map<string, string>, kind: "individual" | "group", create: boolean): any {
    const b = { ...body }
    const type = create ? oneOf(o, "attestation-type", ["symmetrickey", "x509", "tpm"]) : undefined
    if (type === "tpm") throw new Error("--attestation-type tpm: TPM attestation is not emulated")
    const cert = o.get("certificate-path")
    const caName = o.get("root-ca-name")
    const keys = o.has("primary-key") || o.has("secondary-key")
    if (type === "x509" || cert || caName) {
        if (keys) throw new Error("--primary-key/--secondary-key are for symmetric key attestation")
        if (kind === "individual") {
            if (!cert) throw new Error("--certificate-path (--cp) is required for x509 attestation")
            const secondary = o.get("secondary-certificate-path")
            const clientCertificates = {
                primary: { certificate: readCertificate(cert) },
                ...(secondary ? { secondary: { certificate: readCertificate(secondary) } } : {}),
            }
            b.attestation = { type: "x509", x509: { clientCertificates } }
        } else if (caName) b.attestation = { type: "x509", x509: { caReferences: { primary: caName } } }
        else b.attestation = { type: "x509", x509: { signingCertificates: { primary: { certificate: readCertificate(cert!) } } } }
    } else if (type === "symmetrickey" || keys || (create && kind === "group")) {
        const symmetricKey = { primaryKey: o.get("primary-key"), secondaryKey: o.get("secondary-key") }
        b.attestation = { type: "symmetricKey", symmetricKey }
    } else if (create) throw new Error("--attestation-type (--at) symmetrickey|x509 is required")
    if (kind === "individual" && o.has("device-id")) b.deviceId = o.get("device-id")
    const status = oneOf(o, "provisioning-status", ["enabled", "disabled"])
    if (status) b.provisioningStatus = status
    const hubs = o.get("iot-hubs")
    if (hubs !== undefined) b.iotHubs = hubs.split(/[\s,]+/).filter(Boolean)
    const policy = oneOf(o, "allocation-policy", Object.keys(ALLOCATION))
    if (policy) b.allocationPolicy = ALLOCATION[policy]
    const webhook = o.get("webhook-url")
    if (webhook) b.customAllocationDefinition = { webhookUrl: webhook, apiVersion: "2021-10-01" }
    const reprovision = oneOf(o, "reprovision-policy", Object.keys(REPROVISION))
    if (reprovision) b.reprovisionPolicy = REPROVISION[reprovision]
    // az's dps commands spell initial twin properties --props (in the hub's commands --props are message properties).
    const twin = o.get("initial-twin-properties") ?? o.get("props")
    if (twin !== undefined) {
        let desired: unknown
        try {
            desired = JSON.parse(twin)
        } catch {
            throw new Error(`--initial-twin-properties is not JSON: ${twin}`)
        }
        b.initialTwin = { tags: {}, properties: { desired } }
    }
    return b
}

/** Runs one of COMMAND_FLAGS' commands; undefined when `command` is none of them. */
export async function runEnrollmentCommand(command: string, o: Map<string, string>, showKeys: boolean, c: ServiceClient): Promise<unknown> {
    const allowed = COMMAND_FLAGS[command]
    if (!allowed) return undefined
    for (const flag of [...o.keys(), ...(showKeys ? ["show-keys"] : [])])
        if (!allowed.includes(flag) && !COMMON_FLAGS.includes(flag)) throw new Error(`--${flag} does not apply to ${command}`)
    const required = (flag: string, what: string) => {
        // An enrollment group's id is --enrollment-id/--eid or --group-id/--gid, as in az.
        const v = o.get(flag) ?? (flag === "enrollment-id" ? o.get("group-id") : undefined)
        if (!v) throw new Error(`--${flag} ${what} is required`)
        return v
    }
    if (command === "device update") {
        const id = required("device-id", "DEVICE_ID (-d)")
        const path = `/devices/${encodeURIComponent(id)}`
        const device = await c.azure("hub", "GET", path)
        const status = oneOf(o, "status", ["enabled", "disabled"])
        if (status) device.status = status
        if (o.has("primary-key")) device.authentication.symmetricKey.primaryKey = o.get("primary-key")
        if (o.has("secondary-key")) device.authentication.symmetricKey.secondaryKey = o.get("secondary-key")
        return c.azure("hub", "PUT", path, device, o.get("etag") ?? device.etag)
    }
    const kind = command.startsWith("dps enrollment-group") ? "group" : "individual"
    const base = kind === "group" ? "/enrollmentGroups" : "/enrollments"
    const verb = command.split(" ")[2]
    if (verb === "list") return c.azure("dps", "POST", `${base}/query`, { query: "*" })
    const id = required("enrollment-id", kind === "group" ? "GROUP_ID (--gid, --eid)" : "ENROLLMENT_ID (--eid)")
    const path = `${base}/${encodeURIComponent(id)}`
    switch (verb) {
        case "show": {
            const e = await c.azure("dps", "GET", path)
            return showKeys ? { ...e, attestation: await c.azure("dps", "POST", `${path}/attestationmechanism`) } : e
        }
        case "create":
            return c.azure("dps", "PUT", path, applyFlags({ [kind === "group" ? "enrollmentGroupId" : "registrationId"]: id }, o, kind, true))
        case "update": {
            const current = await c.azure("dps", "GET", path)
            return c.azure("dps", "PUT", path, applyFlags(current, o, kind, false), o.get("etag") ?? current.etag)
        }
        case "delete":
            await c.azure("dps", "DELETE", path, undefined, o.get("etag"))
            return { deleted: id }
    }
    return undefined
}
