// Provisions devices with the official Node SDK (azure-iot-provisioning-device + -mqtt +
// azure-iot-security-symmetric-key or azure-iot-security-x509), run as a child process so that
// NODE_EXTRA_CA_CERTS — the way that SDK is given a private CA — takes effect. Reads the job as
// JSON on stdin; prints one JSON line per device. Keys arrive on stdin, never on the command line.
import { execFile } from "child_process"
import { ProvisioningDeviceClient } from "azure-iot-provisioning-device"
import { Mqtt } from "azure-iot-provisioning-device-mqtt"
import { SymmetricKeySecurityClient } from "azure-iot-security-symmetric-key"
import { X509Security } from "azure-iot-security-x509"
import type { ClientCert } from "../support/raw-mqtt-client"

export interface SdkJob {
    idScope: string
    /** `host:port` each device provisions through. */
    devices: {
        provisioningHost: string
        registrationId: string
        /** A symmetric key, or an X.509 certificate chain and private key (PEM). */
        key?: string
        x509?: ClientCert
        payload?: object
    }[]
}

export type SdkOutcome =
    | { registrationId: string; ok: true; assignedHub: string; deviceId: string; status: string; payload?: unknown; elapsedMs: number }
    | { registrationId: string; ok: false; errorName: string; errorClass: string; message: string }

async function provision(job: SdkJob, d: SdkJob["devices"][number]): Promise<SdkOutcome> {
    const security = d.x509 ? new X509Security(d.registrationId, d.x509) : new SymmetricKeySecurityClient(d.registrationId, d.key!)
    // The SDK packages each bundle their own azure-iot-common, so their types differ nominally.
    const client = ProvisioningDeviceClient.create(
        d.provisioningHost,
        job.idScope,
        new Mqtt(),
        security as unknown as Parameters<typeof ProvisioningDeviceClient.create>[3]
    )
    if (d.payload) client.setProvisioningPayload(d.payload)
    try {
        const t0 = performance.now()
        const r: any = await client.register()
        const elapsedMs = performance.now() - t0
        return { registrationId: d.registrationId, ok: true, assignedHub: r.assignedHub, deviceId: r.deviceId, status: r.status, payload: r.payload, elapsedMs }
    } catch (e: any) {
        return { registrationId: d.registrationId, ok: false, errorName: e?.name, errorClass: e?.constructor?.name, message: String(e?.message) }
    }
}

/** Runs a job in a child node process that trusts `caFile`; one outcome per device, in order. */
export function runSdkJob(job: SdkJob, caFile: string): Promise<SdkOutcome[]> {
    return new Promise((resolve, reject) => {
        const child = execFile(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", __filename],
            { env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile }, timeout: 60_000 },
            (err, stdout, stderr) => {
                if (err) return reject(new Error(`${err.message}\n${stderr}`))
                resolve(
                    stdout
                        .trim()
                        .split("\n")
                        .filter(Boolean)
                        .map((l) => JSON.parse(l))
                )
            }
        )
        child.stdin!.end(JSON.stringify(job))
    })
}

async function main() {
    let input = ""
    for await (const chunk of process.stdin) input += chunk
    const job = JSON.parse(input) as SdkJob
    for (const d of job.devices) console.log(JSON.stringify(await provision(job, d)))
}

if (require.main === module) void main()
