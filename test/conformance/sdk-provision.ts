// Provisions devices with the official Node SDK (azure-iot-provisioning-device + -mqtt +
// azure-iot-security-symmetric-key), run as a child process so that NODE_EXTRA_CA_CERTS — the
// way that SDK is given a private CA — takes effect. Reads the job as JSON on stdin; prints
// one JSON line per device. Keys arrive on stdin, never on the command line.
import { ProvisioningDeviceClient } from "azure-iot-provisioning-device"
import { Mqtt } from "azure-iot-provisioning-device-mqtt"
import { SymmetricKeySecurityClient } from "azure-iot-security-symmetric-key"

export interface SdkJob {
    idScope: string
    /** `host:port` each device provisions through. */
    devices: { provisioningHost: string; registrationId: string; key: string; payload?: object }[]
}

export type SdkOutcome =
    | { registrationId: string; ok: true; assignedHub: string; deviceId: string; status: string; payload?: unknown }
    | { registrationId: string; ok: false; errorName: string; errorClass: string; message: string }

async function provision(job: SdkJob, d: SdkJob["devices"][number]): Promise<SdkOutcome> {
    const security = new SymmetricKeySecurityClient(d.registrationId, d.key)
    // The SDK packages each bundle their own azure-iot-common, so their types differ nominally.
    const client = ProvisioningDeviceClient.create(d.provisioningHost, job.idScope, new Mqtt(), security as unknown as Parameters<typeof ProvisioningDeviceClient.create>[3])
    if (d.payload) client.setProvisioningPayload(d.payload)
    try {
        const r: any = await client.register()
        return { registrationId: d.registrationId, ok: true, assignedHub: r.assignedHub, deviceId: r.deviceId, status: r.status, payload: r.payload }
    } catch (e: any) {
        return { registrationId: d.registrationId, ok: false, errorName: e?.name, errorClass: e?.constructor?.name, message: String(e?.message) }
    }
}

async function main() {
    let input = ""
    for await (const chunk of process.stdin) input += chunk
    const job = JSON.parse(input) as SdkJob
    for (const d of job.devices) console.log(JSON.stringify(await provision(job, d)))
}

if (require.main === module) void main()
