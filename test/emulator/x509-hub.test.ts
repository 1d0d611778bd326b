// IoT Hub X.509 device authentication over TLS: no password, the client certificate decides
// (CN = device id; the identity's thumbprint, or a chain to a CA the hub trusts), directly and
// through an IoT Edge gateway; and a device DPS assigned through an X.509 group.
import * as assert from "assert"
import { x509Thumbprints } from "../../sim/emulator/auth/x509"
import { CertifiedKey, createRootCa, issueClientCert, issueIntermediateCa } from "../../sim/pki"
import { provision } from "./fixtures"
import { nextEvent, randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { ClientCert, RawClient } from "../support/raw-mqtt-client"
import { EDGE, HUB, RunningEdge, startEdgeEmulator } from "./edge-fixtures"
import { hubConnect, hubDevice, publish } from "./hub-fixtures"
import { clientCert, expired, nodeCert, pem } from "./x509-fixtures"

const sha1 = (ck: CertifiedKey) => x509Thumbprints(nodeCert(ck)).sha1

async function sendTelemetry(c: RawClient, deviceId: string, body: string): Promise<void> {
    const id = publish(c, `devices/${deviceId}/messages/events/`, body)
    await c.next((p) => p.cmd === "puback" && p.messageId === id)
}

describe("IoT Hub X.509 authentication", () => {
    let emu: RunningEmulator
    let hubRoot: CertifiedKey
    let partnerIntermediate: CertifiedKey
    const certs: Record<string, CertifiedKey> = {}
    const sasDevice = hubDevice("x-sas-dev")

    before(async () => {
        hubRoot = await createRootCa({ commonName: "Hub Root" })
        partnerIntermediate = await issueIntermediateCa(await createRootCa({ commonName: "Hub Partner Root" }), { commonName: "Hub Partner Intermediate" })
        const stranger = await createRootCa({ commonName: "Hub Stranger Root" })
        certs.self = await issueClientCert(undefined, { commonName: "x-self" })
        certs.selfImpostor = await issueClientCert(undefined, { commonName: "x-self" })
        certs.ca = await issueClientCert(hubRoot, { commonName: "x-ca" })
        certs.caExpired = await issueClientCert(hubRoot, { commonName: "x-ca", ...expired() })
        certs.caStranger = await issueClientCert(stranger, { commonName: "x-ca" })
        certs.sasDev = await issueClientCert(hubRoot, { commonName: "x-sas-dev" })
        certs.partner = await issueClientCert(partnerIntermediate, { commonName: "x-partner" })
        certs.mixedCase = await issueClientCert(partnerIntermediate, { commonName: "X-Mixed" })
        certs.timer = await issueClientCert(undefined, { commonName: "x-timer" })
        emu = await startTestEmulator({
            devices: [
                { deviceId: "x-self", authentication: { type: "selfSigned", primaryThumbprint: "11".repeat(20), secondaryThumbprint: sha1(certs.self) } },
                { deviceId: "x-ca", authentication: { type: "certificateAuthority" } },
                { deviceId: "x-timer", authentication: { type: "selfSigned", primaryThumbprint: sha1(certs.timer) } },
                sasDevice,
            ],
            sasSkewSec: 0,
            certificates: [{ name: "hub-root", cert: pem(hubRoot), verified: true }],
            // An intermediate put straight into the group: never verified, trusted for what DPS assigned through it.
            enrollments: [{ enrollmentGroupId: "g-partner", attestation: { type: "x509", certificate: pem(partnerIntermediate) } }],
        })
    })
    after(() => emu?.stop())

    async function connected(deviceId: string, cert: ClientCert): Promise<RawClient> {
        const r = await hubConnect(emu.mqttPort, emu.ca, { deviceId }, cert)
        assert.strictEqual(r.code, 0, JSON.stringify(emu.events.filter((e) => e.name === "hub.refused").pop()?.data))
        return r.client
    }

    async function refusedReason(deviceId: string, cert: ClientCert, key?: string): Promise<string> {
        const ev = nextEvent(emu.emulator, "hub.refused")
        const r = await hubConnect(emu.mqttPort, emu.ca, { deviceId, key }, cert)
        assert.strictEqual(r.code, 5)
        r.client.close()
        return (await ev).reason
    }

    it("admits a selfSigned device by its (secondary) thumbprint and a CA device by its chain; telemetry gets through", async () => {
        for (const [deviceId, ck, type] of [
            ["x-self", certs.self, "selfSigned"],
            ["x-ca", certs.ca, "certificateAuthority"],
        ] as const) {
            const ev = nextEvent(emu.emulator, "hub.connect")
            const c = await connected(deviceId, await clientCert(ck))
            const connect = await ev
            assert.deepStrictEqual([connect.authenticationType, connect.thumbprint, connect.key], [type, sha1(ck), undefined])
            await sendTelemetry(c, deviceId, `hello from ${deviceId}`)
            c.close()
            assert.strictEqual(emu.emulator.service.telemetry(deviceId)[0].body.toString(), `hello from ${deviceId}`)
        }
    })

    it("refuses a wrong thumbprint, a CN that is not the device id, an expired certificate and an unknown CA", async () => {
        assert.match(await refusedReason("x-self", await clientCert(certs.selfImpostor)), /matches neither thumbprint of device x-self/)
        assert.match(await refusedReason("x-self", await clientCert(certs.ca)), /certificate CN "x-ca" is not the device id "x-self"/)
        assert.match(await refusedReason("x-ca", await clientCert(certs.caExpired)), /"x-ca" expired on/)
        assert.match(await refusedReason("x-ca", await clientCert(certs.caStranger)), /does not lead to a CA the hub trusts: .*"CN=Hub Stranger Root"/)
    })

    it("refuses a SAS device presenting a certificate without a token, and an X.509 device sending a token", async () => {
        assert.match(await refusedReason("x-sas-dev", await clientCert(certs.sasDev)), /device x-sas-dev uses SAS authentication/)
        assert.match(await refusedReason("x-self", await clientCert(certs.self), randomKey()), /device x-self authenticates with X.509 \(selfSigned\)/)
    })

    it("gives the identity the CN's spelling when the registration id differs in case, so the hub admits that certificate", async () => {
        const cert = await clientCert(certs.mixedCase)
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "x-mixed" }, undefined, cert)
        assert.strictEqual(answers[answers.length - 1].body.registrationState.deviceId, "X-Mixed")
        const c = await connected("X-Mixed", cert)
        c.close()
    })

    it("admits a device DPS assigned through an X.509 group with the same certificate", async () => {
        const cert = await clientCert(certs.partner)
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "x-partner" }, undefined, cert)
        assert.deepStrictEqual(answers[answers.length - 1].body.registrationState.x509, { enrollmentGroupId: "g-partner" })
        assert.strictEqual(emu.emulator.state.hub.device("x-partner")?.authentication.type, "certificateAuthority")
        const c = await connected("x-partner", cert)
        await sendTelemetry(c, "x-partner", "assigned by DPS")
        c.close()
    })

    it("keeps an X.509 session open past the moment a token session expires", async () => {
        const x509 = await connected("x-timer", await clientCert(certs.timer))
        const tokenExpired = new Promise<void>((resolve) => {
            const onClose = (d: { clientId?: string; reason: string }) => {
                if (d.clientId !== "x-sas-dev" || !/SAS token expired/.test(d.reason)) return
                emu.emulator.off("connection.close", onClose)
                resolve()
            }
            emu.emulator.on("connection.close", onClose)
        })
        const sas = await hubConnect(emu.mqttPort, emu.ca, { deviceId: "x-sas-dev", key: sasDevice.primaryKey, se: Math.floor(Date.now() / 1000) + 1 })
        assert.strictEqual(sas.code, 0)
        await tokenExpired
        assert.ok(x509.isOpen)
        await sendTelemetry(x509, "x-timer", "still here")
        x509.close()
    })
})

describe("IoT Edge gateway X.509 leaves", () => {
    let edge: RunningEdge
    after(() => edge?.emulator.stop())

    it("admits a selfSigned leaf child of the edge device and forwards its telemetry", async () => {
        const leaf = await issueClientCert(undefined, { commonName: "x-edge-leaf" })
        edge = await startEdgeEmulator([{ deviceId: "x-edge-leaf", parent: EDGE, authentication: { type: "selfSigned", primaryThumbprint: sha1(leaf) } }])
        const connect = nextEvent(edge.emulator, "hub.connect")
        const r = await hubConnect(edge.edgePort, edge.edgeCa, { deviceId: "x-edge-leaf", host: HUB }, await clientCert(leaf))
        assert.strictEqual(r.code, 0)
        assert.deepStrictEqual([(await connect).via, (await connect).authenticationType], [EDGE, "selfSigned"])
        const telemetry = nextEvent(edge.emulator, "hub.telemetry")
        await sendTelemetry(r.client, "x-edge-leaf", "through the gateway")
        assert.strictEqual((await telemetry).via, EDGE)
        r.client.close()
    })
})
