// Conformance: the official DPS service SDK (azure-iot-provisioning-service) manages the emulator's
// enrollments as it manages DPS's — individual enrollments and groups created, read, updated with
// ETags, queried and deleted; keys only through the attestation mechanism — and DPS uses them: a
// device provisions against an enrollment made through the API, also after a restart (the enrollments
// the API changes are kept in the state directory). A wrong key is refused (401).
import * as assert from "assert"
import * as fs from "fs"
import { ProvisioningServiceClient } from "azure-iot-provisioning-service"
import type { EnrollmentGroup, IndividualEnrollment } from "azure-iot-provisioning-service/dist/interfaces"
import { Emulator } from "../../sim/emulator"
import { individual, provision } from "../emulator/fixtures"
import { randomKey, tempDir, testConfig, testPki } from "../support/emulator"
import { emulatorRestClient } from "./sdk-service-http"
import { issueClientCert } from "../../sim/pki/certificates"
import { clientCert, nodeCert } from "../emulator/x509-fixtures"

describe("conformance: official DPS service SDK (azure-iot-provisioning-service) against the service endpoint", function () {
    this.timeout(30_000)
    const serviceKey = randomKey()
    let stateDir: string
    let emulator: Emulator
    let ports: { mqttPort: number; servicePort?: number }
    let ca: string
    const fromConfig = individual("cfg-dev")

    const start = async () => {
        const pki = await testPki()
        ca = fs.readFileSync(pki.rootCertFile, "utf8")
        emulator = new Emulator(await testConfig({ enrollments: [fromConfig], service: { primaryKey: serviceKey } }), { stateDir })
        ports = await emulator.start()
    }
    const dps = (key = serviceKey) => {
        const { config, client } = emulatorRestClient(
            `HostName=localhost;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=${key}`,
            ports.servicePort!,
            ca
        )
        return new ProvisioningServiceClient(config as any, client as any)
    }
    // The SDK's interfaces list every field DPS returns; a request sets only some.
    const individualOf = (e: object) => e as IndividualEnrollment
    const groupOf = (e: object) => e as EnrollmentGroup
    const lastStatus = async (registrationId: string, key: string) => (await provision(ports.mqttPort, ca, { registrationId, key })).at(-1)!.body

    beforeEach(async () => {
        stateDir = tempDir("dps-service-sdk")
        await start()
    })
    afterEach(async () => {
        await emulator.stop()
        fs.rmSync(stateDir, { recursive: true, force: true })
    })

    it("creates an individual enrollment a device then provisions against; keys only from the attestation mechanism", async () => {
        const client = dps()
        const created = (
            await client.createOrUpdateIndividualEnrollment(
                individualOf({
                    registrationId: "api-dev-1",
                    attestation: { type: "symmetricKey", symmetricKey: {} },
                    initialTwin: { properties: { desired: { interval: 5 } } },
                })
            )
        ).responseBody
        assert.strictEqual(created.provisioningStatus, "enabled")
        assert.deepStrictEqual(created.attestation.symmetricKey, {}, "no keys in an enrollment body")
        const got = (await client.getIndividualEnrollment("api-dev-1")).responseBody
        assert.strictEqual(got.etag, created.etag)
        const keys = (await client.getIndividualEnrollmentAttestationMechanism("api-dev-1")).responseBody.symmetricKey!
        assert.strictEqual(Buffer.from(keys.primaryKey!, "base64").length, 64)

        const assigned = await lastStatus("api-dev-1", keys.primaryKey!)
        assert.strictEqual(assigned.status, "assigned")
        assert.deepStrictEqual(emulator.service.getTwin("api-dev-1").properties.desired, { interval: 5, $version: 1 })
        const state = (await client.getDeviceRegistrationState("api-dev-1")).responseBody
        assert.deepStrictEqual([state.status, state.assignedHub, state.deviceId], ["assigned", "localhost", "api-dev-1"])
        await assert.rejects(
            client.getIndividualEnrollment("nobody"),
            (e: any) => e.response?.statusCode === 404 && JSON.parse(e.responseBody).errorCode === 404000
        )
    })

    it("updates with the current ETag only; a disabled enrollment is refused at registration; delete takes it away", async () => {
        const client = dps()
        const v1 = (
            await client.createOrUpdateIndividualEnrollment(
                individualOf({ registrationId: "api-dev-2", attestation: { type: "symmetricKey", symmetricKey: {} } })
            )
        ).responseBody
        const key = (await client.getIndividualEnrollmentAttestationMechanism("api-dev-2")).responseBody.symmetricKey!.primaryKey!
        // As the SDK's own read-modify-write sends it: the attestation as read, without keys; the keys stay.
        const v2 = (await client.createOrUpdateIndividualEnrollment({ ...v1, provisioningStatus: "disabled" })).responseBody
        assert.strictEqual((await client.getIndividualEnrollmentAttestationMechanism("api-dev-2")).responseBody.symmetricKey!.primaryKey, key)
        assert.notStrictEqual(v2.etag, v1.etag)
        // v1's ETag names a version that is gone.
        await assert.rejects(client.createOrUpdateIndividualEnrollment({ ...v1, provisioningStatus: "enabled" }), (e: any) => e.response?.statusCode === 412)
        assert.strictEqual((await lastStatus("api-dev-2", key)).status, "disabled")
        await assert.rejects(client.deleteIndividualEnrollment("api-dev-2", v1.etag) as unknown as Promise<void>, (e: any) => e.response?.statusCode === 412)
        await (client.deleteIndividualEnrollment("api-dev-2", v2.etag) as unknown as Promise<void>)
        await assert.rejects(client.getIndividualEnrollment("api-dev-2"), (e: any) => e.response?.statusCode === 404)
        await assert.rejects(provision(ports.mqttPort, ca, { registrationId: "api-dev-2", key }), /CONNACK 5/)
    })

    it("manages enrollment groups (create, get, query, delete), devices of the group provisioning with derived keys", async () => {
        const client = dps()
        const group = (
            await client.createOrUpdateEnrollmentGroup(groupOf({ enrollmentGroupId: "api-group", attestation: { type: "symmetricKey", symmetricKey: {} } }))
        ).responseBody
        assert.strictEqual(group.enrollmentGroupId, "api-group")
        const groupKey = (await client.getEnrollmentGroupAttestationMechanism("api-group")).responseBody.symmetricKey!.primaryKey!
        const { createHmac } = await import("crypto")
        const deviceKey = createHmac("sha256", Buffer.from(groupKey, "base64")).update("api-group-dev").digest("base64")
        assert.strictEqual((await lastStatus("api-group-dev", deviceKey)).status, "assigned")
        const groups = (await client.createEnrollmentGroupQuery({ query: "*" }).next()).responseBody as unknown as any[]
        assert.deepStrictEqual(
            groups.map((g) => g.enrollmentGroupId),
            ["api-group"]
        )
        const states = (await client.createEnrollmentGroupDeviceRegistrationStateQuery({ query: "*" }, "api-group").next()).responseBody as unknown as any[]
        assert.deepStrictEqual(
            states.map((s) => s.registrationId),
            ["api-group-dev"]
        )
        const individuals = (await client.createIndividualEnrollmentQuery({ query: "*" }).next()).responseBody as unknown as any[]
        assert.deepStrictEqual(
            individuals.map((e) => e.registrationId),
            ["cfg-dev"]
        )
        await client.deleteEnrollmentGroup("api-group")
        await assert.rejects(client.getEnrollmentGroup("api-group"), (e: any) => e.response?.statusCode === 404)
    })

    it("takes an individual X.509 enrollment (the device's certificate, base64 DER) and shows its thumbprint, never the certificate", async () => {
        const ck = await issueClientCert(undefined, { commonName: "api-x509-dev" })
        const der = Buffer.from(ck.cert.rawData).toString("base64")
        const client = dps()
        const x509 = { clientCertificates: { primary: { certificate: der } } }
        const created = (await client.createOrUpdateIndividualEnrollment(individualOf({ registrationId: "api-x509-dev", attestation: { type: "x509", x509 } })))
            .responseBody
        assert.strictEqual(created.attestation.x509!.clientCertificates!.primary!.info!.sha1Thumbprint, nodeCert(ck).fingerprint.replace(/:/g, ""))
        assert.strictEqual((created.attestation.x509!.clientCertificates!.primary as any).certificate, undefined)
        const answers = await provision(ports.mqttPort, ca, { registrationId: "api-x509-dev" }, undefined, await clientCert(ck))
        assert.strictEqual(answers.at(-1)!.body.status, "assigned")
        // A certificate whose CN is not the registration id is refused by the config's own rule.
        const other = Buffer.from((await issueClientCert(undefined, { commonName: "someone-else" })).cert.rawData).toString("base64")
        await assert.rejects(
            client.createOrUpdateIndividualEnrollment(
                individualOf({ registrationId: "api-x509-2", attestation: { type: "x509", x509: { clientCertificates: { primary: { certificate: other } } } } })
            ),
            (e: any) => e.response?.statusCode === 400 && /is not the registration id api-x509-2/.test(JSON.parse(e.responseBody).message)
        )
    })

    it("keeps enrollments created, changed or deleted through the API across a restart; the config's others still apply", async () => {
        const client = dps()
        await client.createOrUpdateIndividualEnrollment(individualOf({ registrationId: "kept-dev", attestation: { type: "symmetricKey", symmetricKey: {} } }))
        const key = (await client.getIndividualEnrollmentAttestationMechanism("kept-dev")).responseBody.symmetricKey!.primaryKey!
        await client.createOrUpdateEnrollmentGroup(groupOf({ enrollmentGroupId: "kept-group", attestation: { type: "symmetricKey", symmetricKey: {} } }))
        await client.deleteEnrollmentGroup("kept-group")
        const changes: unknown[] = []
        emulator.on("dps.enrollment", (e) => changes.push(e))
        await client.createOrUpdateIndividualEnrollment(individualOf({ registrationId: "cfg-dev-2", attestation: { type: "symmetricKey", symmetricKey: {} } }))
        await (client.deleteIndividualEnrollment("cfg-dev-2") as unknown as Promise<void>)
        assert.deepStrictEqual(changes, [
            { enrollmentId: "cfg-dev-2", kind: "individual", change: "created" },
            { enrollmentId: "cfg-dev-2", kind: "individual", change: "deleted" },
        ])
        await emulator.stop()

        await start()
        const again = dps()
        assert.strictEqual((await again.getIndividualEnrollment("kept-dev")).responseBody.registrationId, "kept-dev")
        await assert.rejects(again.getEnrollmentGroup("kept-group"), (e: any) => e.response?.statusCode === 404)
        assert.strictEqual((await lastStatus("kept-dev", key)).status, "assigned")
        assert.strictEqual((await lastStatus("cfg-dev", fromConfig.attestation.primaryKey)).status, "assigned")
    })

    it("a config enrollment changed through the API stays changed after a restart, one deleted stays deleted", async () => {
        const client = dps()
        const cfg = (await client.getIndividualEnrollment("cfg-dev")).responseBody
        await client.createOrUpdateIndividualEnrollment({ ...cfg, provisioningStatus: "disabled" })
        await emulator.stop()

        await start()
        const again = dps()
        assert.strictEqual((await again.getIndividualEnrollment("cfg-dev")).responseBody.provisioningStatus, "disabled")
        assert.strictEqual((await lastStatus("cfg-dev", fromConfig.attestation.primaryKey)).status, "disabled", "the config's keys kept, the API's status")
        await (again.deleteIndividualEnrollment("cfg-dev") as unknown as Promise<void>)
        await emulator.stop()

        await start()
        await assert.rejects(dps().getIndividualEnrollment("cfg-dev"), (e: any) => e.response?.statusCode === 404)
    })

    it("refuses a token signed with a wrong key (401)", async () => {
        await assert.rejects(
            dps(randomKey()).getIndividualEnrollment("cfg-dev"),
            (e: any) => e.response?.statusCode === 401 && JSON.parse(e.responseBody).errorCode === 401002
        )
    })
})
