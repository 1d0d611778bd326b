// Each SDK family's CONNECT and request dialect, byte for byte as its sources write it (sources in
// sim/emulator/README.md, "SDK dialects"): DPS register + poll, then the hub CONNECT and a telemetry
// message; and the hub's SAS rules for shared access policy keys (the token-service pattern).
import * as assert from "assert"
import { randomUUID } from "crypto"
import mqtt = require("mqtt-packet")
import { sasSign } from "../../sim/emulator/auth/sas"
import { individual } from "./fixtures"
import { ID_SCOPE, nextEvent, randomKey, RunningEmulator, startTestEmulator } from "../support/emulator"
import { RawClient } from "../support/raw-mqtt-client"
import { hubDevice, publish } from "./hub-fixtures"

/** A token with its fields in the order given; `sr` is signed exactly as written. */
function token(sr: string, key: string, order: string[], skn?: string): string {
    const se = Math.floor(Date.now() / 1000) + 3600
    const fields: Record<string, string | undefined> = { sr, sig: encodeURIComponent(sasSign(sr, se, key)), se: String(se), skn }
    return (
        "SharedAccessSignature " +
        order
            .filter((k) => fields[k] !== undefined)
            .map((k) => `${k}=${fields[k]}`)
            .join("&")
    )
}

interface Dialect {
    family: string
    dps: {
        username: (id: string) => string
        sr: (id: string) => string
        order: string[]
        skn?: string
        clean: boolean
        keepalive: number
        qos: 0 | 1
        rid: (n: number) => string
        pollBody: (id: string) => string
    }
    hub: { username: (id: string) => string; sr: (id: string) => string; order: string[]; clean: boolean; keepalive: number; qos: 0 | 1 }
}

const DIALECTS: Dialect[] = [
    {
        family: "Node (azure-iot-provisioning-device-mqtt, azure-iot-device-mqtt)",
        dps: {
            username: (id) => `${ID_SCOPE}/registrations/${id}/api-version=2019-03-31&ClientVersion=azure-iot-provisioning-device%2F1.9.1%20(node%20v20)`,
            sr: (id) => `${ID_SCOPE}/registrations/${id}`,
            order: ["sr", "sig", "skn", "se"],
            skn: "registration",
            clean: true,
            keepalive: 180,
            qos: 1,
            rid: () => randomUUID(),
            pollBody: () => " ",
        },
        hub: {
            username: (id) => `localhost/${id}/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20)`,
            sr: (id) => `localhost%2Fdevices%2F${id}`,
            order: ["sr", "sig", "se"],
            clean: false,
            keepalive: 180,
            qos: 1,
        },
    },
    {
        family: "azure-iot-sdk-c (prov_transport_mqtt_common.c, iothubtransport_mqtt_common.c)",
        dps: {
            username: (id) => `${ID_SCOPE}/registrations/${id}/api-version=2021-06-01&ClientVersion=iothubclient%2F1.14.0`,
            sr: (id) => `${ID_SCOPE}%2fregistrations%2f${id}`,
            order: ["sr", "sig", "se", "skn"],
            skn: "registration",
            clean: true,
            keepalive: 0,
            qos: 0,
            rid: (n) => String(n),
            pollBody: (id) => JSON.stringify({ registrationId: id }),
        },
        hub: {
            username: (id) => `localhost/${id}/?api-version=2020-09-30&DeviceClientType=iothubclient%2F1.14.0%20(native%3B%20Linux%3B%20x86_64)`,
            sr: (id) => `localhost%2fdevices%2f${id}`,
            order: ["sr", "sig", "se"],
            clean: false,
            keepalive: 240,
            qos: 1,
        },
    },
    {
        family: "azure-sdk-for-c, embedded (az_iot_provisioning_client.c, az_iot_hub_client.c, paho samples)",
        dps: {
            username: (id) => `${ID_SCOPE}/registrations/${id}/api-version=2019-03-31&ClientVersion=azsdk-c%2F1.6.0`,
            sr: (id) => `${ID_SCOPE}%2fregistrations%2f${id}`,
            order: ["sr", "sig", "se"],
            clean: false,
            keepalive: 240,
            qos: 0,
            rid: () => "1",
            pollBody: () => "",
        },
        hub: {
            username: (id) => `localhost/${id}/?api-version=2020-09-30&DeviceClientType=azsdk-c%2F1.6.0`,
            sr: (id) => `localhost%2Fdevices%2F${id}`,
            order: ["sr", "sig", "se"],
            clean: false,
            keepalive: 240,
            qos: 0,
        },
    },
    {
        family: "Python v2 (azure-iot-device: pipeline_stages_provisioning_mqtt.py, sastoken.py, mqtt_transport.py)",
        dps: {
            username: (id) => `${ID_SCOPE}/registrations/${id}/api-version=2019-03-31&ClientVersion=py-azure-iot-device%2F2.13.1%28native%3BLinux%29`,
            sr: (id) => `${ID_SCOPE}%2Fregistrations%2F${id}`,
            order: ["sr", "sig", "se"],
            clean: false,
            keepalive: 60,
            qos: 1,
            rid: () => randomUUID(),
            pollBody: () => " ",
        },
        hub: {
            username: (id) => `localhost/${id}/?api-version=2019-10-01&DeviceClientType=py-azure-iot-device%2F2.13.1%28native%3BLinux%29`,
            sr: (id) => `localhost%2Fdevices%2F${id}`,
            order: ["sr", "sig", "se"],
            clean: false,
            keepalive: 60,
            qos: 1,
        },
    },
]

function connectPacket(clientId: string, username: string, password: string, clean: boolean, keepalive: number): mqtt.IConnectPacket {
    return { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId, clean, keepalive, username, password: Buffer.from(password) }
}

describe("SDK dialects", () => {
    let emu: RunningEmulator
    const enrollments = DIALECTS.map((_, i) => individual(`dialect-${i}`))
    const policyKeys = { device: randomKey(), registryRead: randomKey() }
    const target = hubDevice("policy-target")

    before(async () => {
        emu = await startTestEmulator({
            devices: [target],
            enrollments,
            hubs: [
                {
                    hostName: "localhost",
                    authorizationPolicies: [
                        { keyName: "device", rights: "DeviceConnect", primaryKey: policyKeys.device },
                        { keyName: "registryRead", rights: "RegistryRead", primaryKey: policyKeys.registryRead },
                    ],
                },
            ],
        })
    })
    after(() => emu?.stop())

    DIALECTS.forEach((d, i) => {
        it(`provisions and connects as ${d.family}`, async () => {
            const id = `dialect-${i}`
            const key = enrollments[i].attestation.primaryKey
            const dps = await RawClient.open(emu.mqttPort, emu.ca)
            const p = d.dps
            assert.strictEqual(await dps.connect(connectPacket(id, p.username(id), token(p.sr(id), key, p.order, p.skn), p.clean, p.keepalive)), 0)
            await dps.subscribe()
            let answer = await dps.register(p.rid(1), { registrationId: id }, p.qos)
            assert.strictEqual(answer.status, 202)
            for (let n = 2; answer.status === 202; n++) answer = await dps.poll(p.rid(n), answer.body.operationId, p.pollBody(id), p.qos)
            dps.close()
            const s = answer.body.registrationState
            assert.deepStrictEqual([answer.status, s.status, s.deviceId, s.assignedHub], [200, "assigned", id, "localhost"])

            const h = d.hub
            const hub = await RawClient.open(emu.mqttPort, emu.ca)
            const connected = nextEvent(emu.emulator, "hub.connect")
            assert.strictEqual(await hub.connect(connectPacket(id, h.username(id), token(h.sr(id), key, h.order), h.clean, h.keepalive)), 0)
            assert.strictEqual((await connected).deviceId, id)
            const mid = publish(hub, `devices/${id}/messages/events/`, `from ${d.family}`, h.qos)
            if (h.qos) await hub.next((x) => x.cmd === "puback" && x.messageId === mid)
            else await new Promise<void>((resolve) => emu.emulator.once("hub.telemetry", () => resolve()))
            hub.close()
            assert.strictEqual(emu.emulator.service.telemetry(id).pop()?.body.toString(), `from ${d.family}`)
        })
    })

    async function hubCode(username: string, password: string, clientId = target.deviceId): Promise<number> {
        const c = await RawClient.open(emu.mqttPort, emu.ca)
        const code = await c.connect(connectPacket(clientId, username, password, false, 60))
        c.close()
        return code
    }

    it("takes older user names without `?` for devices, never for modules (as edgeHub reads them)", async () => {
        const own = token(`localhost/devices/${target.deviceId}`, target.primaryKey, ["sr", "sig", "se"])
        const connected = nextEvent(emu.emulator, "hub.connect")
        // Node SDK 1.1 (mqtt.js) and the .NET client 1.2 (edgeHub's IdentityFactory tests).
        assert.strictEqual(await hubCode(`localhost/${target.deviceId}/DeviceClientType=azure-iot-device%2F1.1.2&api-version=2016-11-14`, own), 0)
        assert.strictEqual((await connected).apiVersion, "2016-11-14")
        assert.strictEqual(await hubCode(`localhost/${target.deviceId}/api-version=2016-11-14/DeviceClientType=Microsoft.Azure.Devices.Client/1.2.2`, own), 0)
        const refused = nextEvent(emu.emulator, "hub.refused")
        assert.strictEqual(await hubCode(`localhost/${target.deviceId}/mod1/api-version=2017-06-30/DeviceClientType=x`, own), 5)
        assert.match((await refused).reason, /module identities are not supported/)
    })

    it("admits a device token signed with a DeviceConnect policy's key (skn = policy), iothubowner's too", async () => {
        const sr = `localhost%2Fdevices%2F${target.deviceId}`
        const ev = nextEvent(emu.emulator, "hub.connect")
        assert.strictEqual(
            await hubCode(`localhost/${target.deviceId}/?api-version=2021-04-12`, token(sr, policyKeys.device, ["sr", "sig", "se", "skn"], "device")),
            0
        )
        assert.deepStrictEqual([(await ev).policy, (await ev).key], ["device", "primary"])
        assert.strictEqual(
            await hubCode(`localhost/${target.deviceId}/?api-version=2021-04-12`, token(sr, emu.serviceKey, ["sr", "sig", "se", "skn"], "iothubowner")),
            0
        )
    })

    it("refuses a policy without DeviceConnect, an unknown policy, a policy name on the device's own key", async () => {
        const sr = `localhost/devices/${target.deviceId}`
        const user = `localhost/${target.deviceId}/?api-version=2021-04-12`
        const cases: [string, string][] = [
            [token(sr, policyKeys.registryRead, ["sr", "sig", "se", "skn"], "registryRead"), "policy registryRead lacks DeviceConnect"],
            [token(sr, policyKeys.device, ["sr", "sig", "se", "skn"], "service"), 'no shared access policy "service"'],
            [token(sr, target.primaryKey, ["sr", "sig", "se", "skn"], "device"), "does not match the keys of policy device"],
        ]
        for (const [password, reason] of cases) {
            const refused = nextEvent(emu.emulator, "hub.refused")
            assert.strictEqual(await hubCode(user, password), 5)
            assert.match((await refused).reason, new RegExp(reason))
        }
    })
})
