// DPS over HTTPS: the seed's curl walkthrough (PUT register with a SAS Authorization header, then GET
// the operation), the official azure-iot-provisioning-device-http transport with SAS and X.509, DPS's
// error bodies and Retry-After, and a Date header on every answer (the devices' clock, TIME_HOST).
import * as assert from "assert"
import * as fs from "fs"
import * as https from "https"
import * as path from "path"
import { execFile } from "child_process"
import { Http as HttpBase } from "azure-iot-http-base"
import { ProvisioningDeviceClient } from "azure-iot-provisioning-device"
import { Http } from "azure-iot-provisioning-device-http"
import { SymmetricKeySecurityClient } from "azure-iot-security-symmetric-key"
import { X509Security } from "azure-iot-security-x509"
import { createRootCa, issueClientCert } from "../../sim/pki/certificates"
import { individual } from "./fixtures"
import { ID_SCOPE, RunningEmulator, startTestEmulator, tempDir } from "../support/emulator"
import { dpsToken } from "../support/raw-mqtt-client"
import { clientCert, pem } from "./x509-fixtures"

const IMF_DATE = /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/

interface Answer {
    status: number
    headers: Record<string, string>
    body: any
}

/** One request with curl (Debian's), headers and body parsed from `-i` output. */
function curl(port: number, caFile: string, args: string[]): Promise<Answer> {
    return new Promise((resolve, reject) =>
        execFile("curl", ["-sS", "-i", "--cacert", caFile, ...args.map((a) => a.replace("{port}", String(port)))], (err, stdout) => {
            if (err) return reject(err)
            const [head, ...rest] = stdout.split("\r\n\r\n")
            const [statusLine, ...lines] = head.split("\r\n")
            const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]))
            const text = rest.join("\r\n\r\n")
            resolve({ status: Number(statusLine.split(" ")[1]), headers, body: text ? JSON.parse(text) : undefined })
        })
    )
}

/** The official HTTP transport, pointed at the emulator's port through its http-base options (a CA and an agent). */
function sdkTransport(port: number, ca: string): Http {
    const base = new HttpBase()
    const agent = new https.Agent()
    // The SDK takes a bare host name and leaves the port to the agent (Azure's is 443).
    ;(agent as any).defaultPort = port
    base.setOptions({ ca, http: { agent } } as any)
    return new Http(base as any)
}

describe("DPS REST face", () => {
    let emu: RunningEmulator
    let caFile: string
    const dev = individual("rest-dev")
    const sdkDev = individual("rest-sdk", { faults: { retryAfter: 0 } })
    const busy = individual("rest-busy", { faults: { throttle: 1, retryAfter: 7 } })
    let x509Cert: Awaited<ReturnType<typeof clientCert>>

    before(async () => {
        const root = await createRootCa({ commonName: "REST Root" })
        const leaf = await issueClientCert(root, { commonName: "rest-x509" })
        x509Cert = await clientCert(leaf)
        const x509 = { registrationId: "rest-x509", attestation: { type: "x509" as const, certificate: pem(leaf) }, faults: { retryAfter: 0 } }
        emu = await startTestEmulator({ enrollments: [dev, sdkDev, busy, x509], dps: { retryAfter: 1 } })
        caFile = path.join(tempDir("dps-rest"), "ca.pem")
        fs.writeFileSync(caFile, emu.ca)
    })
    after(() => emu?.stop())

    const url = (p: string) => `https://localhost:{port}/${ID_SCOPE}/registrations/${p}`

    it("follows the seed's curl walkthrough: PUT register with a SAS header, then GET the operation until assigned", async () => {
        const auth = `Authorization: ${dpsToken({ registrationId: "rest-dev", key: dev.attestation.primaryKey })}`
        const json = ["-H", "Content-Type: application/json", "-H", "Content-Encoding: utf-8"]
        const reg = await curl(emu.httpsPort, caFile, [
            "-X",
            "PUT",
            ...json,
            "-H",
            auth,
            "-d",
            '{"registrationId":"rest-dev"}',
            url("rest-dev/register?api-version=2021-06-01"),
        ])
        assert.deepStrictEqual([reg.status, reg.body.status, reg.headers["retry-after"]], [202, "assigning", "1"])
        assert.match(reg.headers.date, IMF_DATE)
        let op = reg
        for (let i = 0; op.status === 202 && i < 5; i++)
            op = await curl(emu.httpsPort, caFile, ["-H", auth, url(`rest-dev/operations/${reg.body.operationId}?api-version=2021-06-01`)])
        assert.deepStrictEqual(
            [op.status, op.body.status, op.body.registrationState.deviceId, op.body.registrationState.assignedHub],
            [200, "assigned", "rest-dev", "localhost"]
        )
        // Device Registration Status Lookup (POST on the registration) gives the same state.
        const lookup = await curl(emu.httpsPort, caFile, ["-X", "POST", "-H", auth, ...json, "-d", "{}", url("rest-dev?api-version=2021-06-01")])
        assert.deepStrictEqual([lookup.status, lookup.body.status, lookup.body.etag], [200, "assigned", op.body.registrationState.etag])
        // The MQTT face shares the registrar: the registration is the same one.
        assert.strictEqual(emu.emulator.registration("rest-dev")?.status, "assigned")
    })

    it("answers HEAD / (the firmware's clock request) and any other path with a Date header", async () => {
        for (const args of [["-I", "https://localhost:{port}/"], ["https://localhost:{port}/anything"]]) {
            const r = await curl(emu.httpsPort, caFile, args)
            assert.strictEqual(r.status, 404)
            assert.match(r.headers.date, IMF_DATE)
            assert.ok(Math.abs(Date.parse(r.headers.date) - Date.now()) < 5000)
        }
    })

    it("answers as DPS does: 401 without credentials, 400 without api-version, 405, 404 unknown operation, 429 with Retry-After", async () => {
        const auth = (id: string, key: string) => `Authorization: ${dpsToken({ registrationId: id, key })}`
        const cases: [string[], number, number][] = [
            [["-X", "PUT", "-d", "{}", url("rest-dev/register?api-version=2021-06-01")], 401, 401002],
            [["-X", "PUT", "-H", auth("rest-dev", sdkDev.attestation.primaryKey), "-d", "{}", url("rest-dev/register?api-version=2021-06-01")], 401, 401002],
            [["-X", "PUT", "-H", auth("rest-dev", dev.attestation.primaryKey), "-d", "{}", url("rest-dev/register")], 400, 400004],
            [["-X", "DELETE", "-H", auth("rest-dev", dev.attestation.primaryKey), url("rest-dev/register?api-version=2021-06-01")], 405, 405000],
            [["-H", auth("rest-dev", dev.attestation.primaryKey), url("rest-dev/operations/4.nope?api-version=2021-06-01")], 404, 404001],
            [["-X", "PUT", "-H", auth("rest-busy", busy.attestation.primaryKey), "-d", "{}", url("rest-busy/register?api-version=2021-06-01")], 429, 429001],
        ]
        for (const [args, status, errorCode] of cases) {
            const r = await curl(emu.httpsPort, caFile, args)
            assert.deepStrictEqual([r.status, r.body.errorCode, r.headers["x-ms-error-code"]], [status, errorCode, String(errorCode)], args.join(" "))
            assert.deepStrictEqual(Object.keys(r.body), ["errorCode", "trackingId", "message", "timestampUtc"])
            assert.match(r.headers.date, IMF_DATE)
            assert.strictEqual(r.headers["retry-after"], status === 429 ? "7" : undefined)
        }
    })

    it("provisions with the official HTTP transport (azure-iot-provisioning-device-http), SAS and X.509", async () => {
        const create = (security: unknown) =>
            ProvisioningDeviceClient.create("localhost", ID_SCOPE, sdkTransport(emu.httpsPort, emu.ca) as any, security as any)
        const sas: any = await create(new SymmetricKeySecurityClient("rest-sdk", sdkDev.attestation.primaryKey)).register()
        assert.deepStrictEqual([sas.status, sas.deviceId, sas.assignedHub], ["assigned", "rest-sdk", "localhost"])
        const x: any = await create(new X509Security("rest-x509", x509Cert)).register()
        assert.deepStrictEqual([x.status, x.deviceId, x.assignedHub], ["assigned", "rest-x509", "localhost"])
        assert.strictEqual(emu.emulator.state.hub.device("rest-x509")?.authentication.type, "selfSigned")
        assert.ok(emu.events.some((e) => e.name === "dps.request" && e.data.method === "PUT" && e.data.status === 202))
    })
})
