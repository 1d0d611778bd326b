// SAS tokens: the reference vectors, the verification rules, and the accept/reject matrix
// of real CONNECTs over TLS (CONNACK 5 for every refusal).
import * as assert from "assert"
import { sasBuildToken, sasDeriveDeviceKey, sasParse, sasSign, sasVerify } from "../../sim/emulator/auth/sas"
import { group, individual, provision } from "./fixtures"
import { ID_SCOPE, randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { dpsToken, RawClient } from "../support/raw-mqtt-client"

const SE = 1893456000
const GROUP_KEY = "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="
const REG_ID = "sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6"
const DERIVED = "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc="
const DPS_VECTOR = `SharedAccessSignature sr=0ne00000A0A/registrations/${REG_ID}&sig=qpIsrloi8Jvjr6VNlLd1Nyl5psB5KmjNgq%2FDdK0dP4Y%3D&skn=registration&se=1893456000`
const HUB_VECTOR = `SharedAccessSignature sr=contoso.azure-devices.net%2Fdevices%2F${REG_ID}&sig=pfFrkV5hapK3r7irQpcafnu9CT7Qayzc7xdjcvEJR%2Bw%3D&se=1893456000`
const MODULE_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
const MODULE_VECTOR =
    "SharedAccessSignature sr=contoso.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1&sig=qlZoHzU3fhemQiB7UbAzmWuvSCqTaAV0to0yy%2FQgQoU%3D&se=1893456000"
const C_SDK_SR = `0ne00000A0A%2fregistrations%2f${REG_ID}`
const C_SDK_SIG = "Ftn5QKUtT2hR5dOiEsitm1UvvDZqKKXLu%2FdyVyNhXoA%3D"
const DPS_RESOURCE = { resource: `0ne00000A0A/registrations/${REG_ID}`, skn: "registration" }
const BEFORE_SE = SE - 3600

describe("SAS tokens: reference vectors", () => {
    it("derives the group device key", () => {
        assert.strictEqual(sasDeriveDeviceKey(GROUP_KEY, REG_ID), DERIVED)
    })
    it("signs the DPS vector and verifies it as written by the Node SDK (sr, sig, skn, se)", () => {
        assert.strictEqual(encodeURIComponent(sasSign(`0ne00000A0A/registrations/${REG_ID}`, SE, DERIVED)), "qpIsrloi8Jvjr6VNlLd1Nyl5psB5KmjNgq%2FDdK0dP4Y%3D")
        assert.deepStrictEqual(sasVerify(DPS_VECTOR, DPS_RESOURCE, { primaryKey: DERIVED }, BEFORE_SE), { ok: true, key: "primary" })
    })
    it("builds the hub and module vectors byte for byte", () => {
        assert.strictEqual(sasBuildToken(`contoso.azure-devices.net%2Fdevices%2F${REG_ID}`, SE, DERIVED), HUB_VECTOR)
        assert.strictEqual(sasBuildToken("contoso.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1", SE, MODULE_KEY), MODULE_VECTOR)
    })
    it("verifies hub and module tokens against the decoded resource, without skn", () => {
        const hub = { resource: `contoso.azure-devices.net/devices/${REG_ID}`, skn: null }
        assert.ok(sasVerify(HUB_VECTOR, hub, { primaryKey: DERIVED }, BEFORE_SE).ok)
        const mod = { resource: "CONTOSO.azure-devices.net/devices/dev1/modules/mod1", skn: null }
        assert.ok(sasVerify(MODULE_VECTOR, mod, { primaryKey: MODULE_KEY }, BEFORE_SE).ok)
    })
    it("verifies the C-SDK lower-case %2f token: the HMAC covers the sr as sent", () => {
        const token = `SharedAccessSignature sr=${C_SDK_SR}&sig=${C_SDK_SIG}&se=${SE}&skn=registration`
        assert.ok(sasVerify(token, DPS_RESOURCE, { primaryKey: DERIVED }, BEFORE_SE).ok)
        // Re-encoding the sr (upper-case %2F) would change the signature.
        const reencoded = token.replace(/%2f/g, "%2F")
        assert.strictEqual(sasVerify(reencoded, DPS_RESOURCE, { primaryKey: DERIVED }, BEFORE_SE).ok, false)
    })
})

describe("SAS tokens: verification rules", () => {
    const key = { primaryKey: DERIVED }
    it("reads fields in any order and any case", () => {
        const t = `sharedaccesssignature SE=${SE}&Skn=registration&SIG=qpIsrloi8Jvjr6VNlLd1Nyl5psB5KmjNgq%2FDdK0dP4Y%3D&sr=0ne00000A0A/registrations/${REG_ID}`
        assert.ok(sasVerify(t, DPS_RESOURCE, key, BEFORE_SE).ok)
    })
    it("allows 5 minutes of clock skew after se, not more", () => {
        assert.ok(sasVerify(DPS_VECTOR, DPS_RESOURCE, key, SE + 299).ok)
        const late = sasVerify(DPS_VECTOR, DPS_RESOURCE, key, SE + 301)
        assert.strictEqual(late.ok, false)
        assert.match((late as { reason: string }).reason, /expired/)
    })
    it("matches the secondary key when the primary does not", () => {
        assert.deepStrictEqual(sasVerify(DPS_VECTOR, DPS_RESOURCE, { primaryKey: randomKey(), secondaryKey: DERIVED }, BEFORE_SE), {
            ok: true,
            key: "secondary",
        })
    })
    it("rejects a wrong key name, a missing one, and one where none belongs", () => {
        const wrong = DPS_VECTOR.replace("skn=registration", "skn=device")
        assert.match(String((sasVerify(wrong, DPS_RESOURCE, key, BEFORE_SE) as any).reason), /skn/)
        const none = DPS_VECTOR.replace("&skn=registration", "")
        assert.strictEqual(sasVerify(none, DPS_RESOURCE, key, BEFORE_SE).ok, false)
        assert.strictEqual(sasVerify(DPS_VECTOR, { ...DPS_RESOURCE, skn: null }, key, BEFORE_SE).ok, false)
        // DPS: `skn=registration` or none (azure-sdk-for-c and Python v2 send none); another name stays wrong.
        const dps = { ...DPS_RESOURCE, sknOptional: true }
        assert.deepStrictEqual(sasVerify(none, dps, key, BEFORE_SE), { ok: true, key: "primary" })
        assert.strictEqual(sasVerify(wrong, dps, key, BEFORE_SE).ok, false)
    })
    it("rejects another resource, a changed signature, and malformed tokens", () => {
        assert.strictEqual(sasVerify(DPS_VECTOR, { ...DPS_RESOURCE, resource: "0ne00000A0A/registrations/other" }, key, BEFORE_SE).ok, false)
        assert.strictEqual(sasVerify(DPS_VECTOR.replace("qpIs", "qpIt"), DPS_RESOURCE, key, BEFORE_SE).ok, false)
        for (const bad of [
            "",
            "SharedAccessSignature",
            "Bearer sr=a&sig=b&se=1",
            "SharedAccessSignature sr=a&sig=b",
            "SharedAccessSignature sr=a&sig=b&se=soon",
            "SharedAccessSignature sr=a&sr=a&sig=b&se=1",
            "SharedAccessSignature sr=a&sig=%E0%A4%A&se=1",
        ])
            assert.strictEqual(sasParse(bad).ok, false, bad)
    })
})

describe("SAS tokens: whole values, never prefixes", () => {
    const key = { primaryKey: DERIVED }
    const sigOf = (token: string) => decodeURIComponent(/sig=([^&]*)/.exec(token)![1])
    const withSig = (token: string, sig: string) => token.replace(/sig=[^&]*/, "sig=" + encodeURIComponent(sig))
    it("refuses the signature cut short by one character or by half, and one with a character added", () => {
        const sig = sigOf(DPS_VECTOR)
        assert.ok(sasVerify(withSig(DPS_VECTOR, sig), DPS_RESOURCE, key, BEFORE_SE).ok)
        for (const bad of [sig.slice(0, -1), sig.slice(0, sig.length / 2), sig + "A"])
            assert.strictEqual(sasVerify(withSig(DPS_VECTOR, bad), DPS_RESOURCE, key, BEFORE_SE).ok, false, bad)
    })
    it("refuses a token for one registration id presented for a longer or a shorter one", () => {
        // The token names dev-0; dev-01 starts with it, and dev-0 is where dev-01's token would be cut.
        const short = sasBuildToken("0ne00000A0A/registrations/dev-0", SE, DERIVED, "registration")
        const long = sasBuildToken("0ne00000A0A/registrations/dev-01", SE, DERIVED, "registration")
        const expect = (id: string) => ({ resource: `0ne00000A0A/registrations/${id}`, skn: "registration" })
        assert.ok(sasVerify(short, expect("dev-0"), key, BEFORE_SE).ok)
        assert.match(String((sasVerify(short, expect("dev-01"), key, BEFORE_SE) as { reason: string }).reason), /does not name/)
        assert.match(String((sasVerify(long, expect("dev-0"), key, BEFORE_SE) as { reason: string }).reason), /does not name/)
        const hub = sasBuildToken("h.azure-devices.net%2Fdevices%2Fdev-0", SE, DERIVED)
        assert.strictEqual(sasVerify(hub, { resource: "h.azure-devices.net/devices/dev-01", skn: null }, key, BEFORE_SE).ok, false)
    })
})

describe("SAS tokens: CONNECT accept/reject matrix over TLS", () => {
    let emu: RunningEmulator
    const dev = individual("matrix-dev")
    const off = individual("matrix-off", { enabled: false })
    const grp = group("matrix-group")
    const devKey = dev.attestation.primaryKey
    const now = () => Math.floor(Date.now() / 1000)

    before(async () => {
        emu = await startTestEmulator({ enrollments: [dev, off, grp] })
    })
    after(() => emu.stop())

    async function connack(o: Parameters<typeof dpsToken>[0] & { clientId?: string; idScope?: string }): Promise<number> {
        const c = await RawClient.open(emu.mqttPort, emu.ca)
        try {
            return await c.connect(o)
        } finally {
            c.close()
        }
    }

    const accepted: [string, () => Promise<number>][] = [
        ["a good token", () => connack({ registrationId: "matrix-dev", key: devKey })],
        ["the secondary key", () => connack({ registrationId: "matrix-dev", key: dev.attestation.secondaryKey })],
        [
            "a C-SDK token (lower-case %2f sr, api-version 2021-06-01)",
            () => connack({ registrationId: "matrix-dev", key: devKey, srRaw: `${ID_SCOPE}%2fregistrations%2fmatrix-dev`, apiVersion: "2021-06-01" }),
        ],
        [
            "an ID scope and registration id in other case",
            () =>
                connack({
                    registrationId: "MATRIX-DEV",
                    key: devKey,
                    idScope: ID_SCOPE.toUpperCase(),
                    srRaw: `${ID_SCOPE.toUpperCase()}/registrations/MATRIX-DEV`,
                }),
        ],
        ["a token expired less than 5 minutes ago", () => connack({ registrationId: "matrix-dev", key: devKey, se: now() - 200 })],
        [
            "a group device with its derived key",
            () => connack({ registrationId: "grp-dev-7", key: sasDeriveDeviceKey(grp.attestation.primaryKey, "grp-dev-7") }),
        ],
        [
            "a valid key of a disabled enrollment (DPS answers `disabled` at registration)",
            () => connack({ registrationId: "matrix-off", key: off.attestation.primaryKey }),
        ],
    ]
    for (const [name, run] of accepted) it(`accepts ${name}`, async () => assert.strictEqual(await run(), 0))

    const refused: [string, () => Promise<number>][] = [
        ["a bad signature", () => connack({ registrationId: "matrix-dev", key: randomKey() })],
        ["an expired token", () => connack({ registrationId: "matrix-dev", key: devKey, se: now() - 301 })],
        ["a wrong skn", () => connack({ registrationId: "matrix-dev", key: devKey, skn: "iothubowner" })],
        ["a wrong sr", () => connack({ registrationId: "matrix-dev", key: devKey, srRaw: `${ID_SCOPE}/registrations/other-dev` })],
        ["an unknown registration", () => connack({ registrationId: "nobody", key: devKey })],
        ["an unknown ID scope", () => connack({ registrationId: "matrix-dev", key: devKey, idScope: "0ne99999999" })],
        ["a client id that differs from the registration id", () => connack({ registrationId: "matrix-dev", key: devKey, clientId: "someone-else" })],
        ["a group device signing with the group key itself", () => connack({ registrationId: "grp-dev-7", key: grp.attestation.primaryKey })],
    ]
    for (const [name, run] of refused) it(`refuses ${name} with CONNACK 5`, async () => assert.strictEqual(await run(), 5))

    it("refuses a CONNECT without a password or without an api-version", async () => {
        const base = { cmd: "connect" as const, protocolId: "MQTT" as const, protocolVersion: 4 as const, clean: true, keepalive: 60, clientId: "matrix-dev" }
        const token = Buffer.from(dpsToken({ registrationId: "matrix-dev", key: devKey }))
        for (const p of [
            { ...base, username: `${ID_SCOPE}/registrations/matrix-dev/api-version=2019-03-31` },
            { ...base, username: `${ID_SCOPE}/registrations/matrix-dev`, password: token },
        ]) {
            const c = await RawClient.open(emu.mqttPort, emu.ca)
            assert.strictEqual(await c.connect(p), 5)
            await c.closed
        }
    })

    it("answers the disabled enrollment's registration with status `disabled`", async () => {
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "matrix-off", key: off.attestation.primaryKey })
        const last = answers[answers.length - 1]
        assert.strictEqual(last.status, 200)
        assert.strictEqual(last.body.status, "disabled")
        assert.strictEqual(last.body.registrationState.status, "disabled")
        assert.strictEqual(last.body.registrationState.assignedHub, undefined)
    })

    it("names the reason of each refusal in its event, never a key or signature", async () => {
        // Its own refusals: this test must not rely on the matrix above having run.
        const from = emu.events.length
        for (const [, run] of refused.slice(0, 3)) assert.strictEqual(await run(), 5)
        assert.strictEqual(await connack({ registrationId: "matrix-dev", key: devKey, clientId: "someone-else" }), 5)
        const refusals = emu.events
            .slice(from)
            .filter((e) => e.name === "dps.refused")
            .map((e) => e.data.reason as string)
        assert.ok(refusals.some((r) => /signature/.test(r)))
        assert.ok(refusals.some((r) => /expired/.test(r)))
        assert.ok(refusals.some((r) => /skn/.test(r)))
        assert.ok(refusals.some((r) => /client id/.test(r)))
        const log = JSON.stringify(emu.events)
        for (const secret of [devKey, dev.attestation.secondaryKey, grp.attestation.primaryKey, off.attestation.primaryKey]) assert.ok(!log.includes(secret))
        assert.ok(!/sig=/.test(log))
    })
})

describe('SAS tokens: bad credentials answered at registration (dps.authFailure "register", as Azure DPS)', () => {
    let emu: RunningEmulator
    const dev = individual("late-dev")
    before(async () => {
        emu = await startTestEmulator({ enrollments: [dev], dps: { authFailure: "register" } })
    })
    after(() => emu.stop())

    it("admits the CONNECT, then answers register and poll with 401/401002 and never assigns", async () => {
        const c = await RawClient.open(emu.mqttPort, emu.ca)
        assert.strictEqual(await c.connect({ registrationId: "late-dev", key: randomKey() }), 0)
        await c.subscribe()
        const reg = await c.register("1", { registrationId: "late-dev" })
        assert.strictEqual(reg.topic, "$dps/registrations/res/401/?$rid=1")
        assert.strictEqual(reg.body.errorCode, 401002)
        assert.strictEqual((await c.poll("2", "4.0.0")).status, 401)
        c.close()
        assert.strictEqual(emu.emulator.registration("late-dev"), undefined)
    })

    it("still assigns a device with the right key", async () => {
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "late-dev", key: dev.attestation.primaryKey })
        assert.strictEqual(answers[answers.length - 1].body.status, "assigned")
    })
})
