// What the emulator reads from and writes into MQTT user names and topics, as plain functions: the
// decisions a device sees (which request, which device, which property) and the exact bytes it must
// match (response topics, property bags). The TLS suites reach these through real sessions; here each
// rule is pinned at its boundary.
import * as assert from "assert"
import { dpsErrorBody, dpsNewEtag, dpsNewOperationId, dpsParseRequestTopic, dpsParseUsername, dpsResponseTopic } from "../../sim/emulator/dps/dps-protocol"
import {
    hubC2dTopic,
    hubDesiredPatchTopic,
    hubMethodRequestTopic,
    hubParseRequestTopic,
    hubParseUsername,
    hubSubscriptionKind,
    hubTwinResponseTopic,
} from "../../sim/emulator/hub/hub-protocol"
import { propertyBagBuild, propertyBagParse } from "../../sim/emulator/hub/property-bag"
import { parseQuery } from "../../sim/emulator/transport/topic-query"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe("protocol parsing", () => {
    describe("query tails", () => {
        it("keeps the first of repeated keys, raw values, and skips pairs without a name", () => {
            const q = parseQuery("$rid=%41&$rid=2&=x&flag&k=a=b")
            assert.deepStrictEqual(
                [...q],
                [
                    ["$rid", "%41"],
                    ["k", "a=b"],
                ]
            )
        })
    })

    describe("DPS", () => {
        it("reads the user name with or without `?`, and refuses one without api-version or with a slash in the id", () => {
            const want = { idScope: "0ne00000A0A", registrationId: "dev-01", apiVersion: "2019-03-31" }
            assert.deepStrictEqual(dpsParseUsername("0ne00000A0A/registrations/dev-01/api-version=2019-03-31&ClientVersion=x%2F1"), want)
            assert.deepStrictEqual(dpsParseUsername("0ne00000A0A/registrations/dev-01/?api-version=2019-03-31"), want)
            assert.strictEqual(dpsParseUsername("0ne00000A0A/registrations/dev-01/ClientVersion=1"), undefined)
            assert.strictEqual(dpsParseUsername("0ne00000A0A/registrations/dev-01/api-version="), undefined)
            assert.strictEqual(dpsParseUsername("0ne00000A0A/registrations/a/b/api-version=2019-03-31"), undefined)
            assert.strictEqual(dpsParseUsername("x/0ne00000A0A/registrations/dev-01/api-version=2019-03-31"), undefined)
            assert.strictEqual(dpsParseUsername("0ne00000A0A/devices/dev-01/api-version=2019-03-31"), undefined)
        })

        it("tells register from poll, needs `?` right after the prefix and a `$rid`, and decodes the operation id", () => {
            assert.deepStrictEqual(dpsParseRequestTopic("$dps/registrations/PUT/iotdps-register/?$rid=1"), { kind: "register", rid: "1" })
            assert.deepStrictEqual(dpsParseRequestTopic("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.ab%2Ecd"), {
                kind: "poll",
                rid: "2",
                operationId: "4.ab.cd",
            })
            assert.deepStrictEqual(dpsParseRequestTopic("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=3"), {
                kind: "poll",
                rid: "3",
                operationId: undefined,
            })
            // An operation id that is not valid percent-encoding names no operation.
            assert.deepStrictEqual(dpsParseRequestTopic("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=4&operationId=%E0%A4%A"), {
                kind: "poll",
                rid: "4",
                operationId: undefined,
            })
            for (const topic of [
                "$dps/registrations/PUT/iotdps-register/$rid=1",
                "$dps/registrations/PUT/iotdps-register/x$rid=1",
                "$dps/registrations/PUT/iotdps-register/?rid=1",
                "$dps/registrations/PUT/iotdps-register/?$rid=",
                "$dps/registrations/PUT/iotdps-register",
                "$dps/registrations/PUT/other/?$rid=1",
                "x$dps/registrations/PUT/iotdps-register/?$rid=1",
            ])
                assert.strictEqual(dpsParseRequestTopic(topic), undefined, topic)
        })

        it("writes response topics with the `$rid` as sent and retry-after only when given", () => {
            assert.strictEqual(dpsResponseTopic(202, "a%20b", 3), "$dps/registrations/res/202/?$rid=a%20b&retry-after=3")
            assert.strictEqual(dpsResponseTopic(200, "7"), "$dps/registrations/res/200/?$rid=7")
            assert.strictEqual(dpsResponseTopic(429, "7", 0), "$dps/registrations/res/429/?$rid=7&retry-after=0")
        })

        it("shapes error bodies, operation ids and etags as DPS does, each one new", () => {
            const now = new Date("2026-01-02T03:04:05.678Z")
            const body = dpsErrorBody(401002, "no", now)
            assert.deepStrictEqual({ ...body, trackingId: "" }, { errorCode: 401002, trackingId: "", message: "no", timestampUtc: "2026-01-02T03:04:05.678Z" })
            assert.match(body.trackingId, UUID)
            const op = dpsNewOperationId()
            assert.match(op, /^4\.[0-9a-f]{16}\.[0-9a-f-]{36}$/)
            assert.match(op.slice(19), UUID)
            assert.notStrictEqual(dpsNewOperationId(), op)
            const etag = dpsNewEtag()
            assert.match(JSON.parse(Buffer.from(etag, "base64").toString("utf8")), UUID)
            assert.notStrictEqual(dpsNewEtag(), etag)
        })
    })

    describe("IoT Hub user names", () => {
        it("reads host (port dropped), device, module and decoded parameters", () => {
            assert.deepStrictEqual(hubParseUsername("h.azure-devices.net:8883/dev-1/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aex%3BT%3B1"), {
                hostName: "h.azure-devices.net",
                deviceId: "dev-1",
                moduleId: undefined,
                apiVersion: "2021-04-12",
                modelId: "dtmi:com:ex;T;1",
            })
            assert.deepStrictEqual(hubParseUsername("h/dev-1/mod-1/?api-version=2021-04-12"), {
                hostName: "h",
                deviceId: "dev-1",
                moduleId: "mod-1",
                apiVersion: "2021-04-12",
                modelId: undefined,
            })
            // A value that is not valid percent-encoding is kept as written.
            assert.strictEqual(hubParseUsername("h/dev-1/?api-version=2021-04-12&model-id=%E0%A4%A")?.modelId, "%E0%A4%A")
        })

        it("reads the older SDKs' slash-separated parameters without `?`, and a trailing slash", () => {
            const old = hubParseUsername("h/dev-1/api-version=2016-11-14/DeviceClientType=Microsoft.Azure.Devices.Client/1.2.2")
            assert.deepStrictEqual(old, { hostName: "h", deviceId: "dev-1", moduleId: undefined, apiVersion: "2016-11-14", modelId: undefined })
            const mixed = hubParseUsername("h/dev-1/DeviceClientType=c/1.0/model-id=dtmi:x;1")
            assert.strictEqual(mixed?.modelId, "dtmi:x;1")
            assert.strictEqual(mixed?.moduleId, undefined)
            assert.deepStrictEqual(hubParseUsername("h/dev-1/"), {
                hostName: "h",
                deviceId: "dev-1",
                moduleId: undefined,
                apiVersion: undefined,
                modelId: undefined,
            })
            assert.strictEqual(hubParseUsername("h/dev-1/mod-1/")?.moduleId, "mod-1")
        })

        it("refuses user names without host or device, with empty or extra segments", () => {
            for (const u of [
                "h",
                "h/?api-version=1",
                "/dev/?api-version=1",
                ":8883/dev/?api-version=1",
                "h//?api-version=1",
                "h/a/b/c/?api-version=1",
                "h/a//",
                "h//m/",
                // Nothing before `?`, and parameters from the first segment on.
                "?h/dev/?api-version=1",
                "a=b/dev/api-version=1",
            ])
                assert.strictEqual(hubParseUsername(u), undefined, u)
        })
    })

    describe("IoT Hub topics", () => {
        it("takes telemetry only on the device's own events topic, with or without a property bag", () => {
            assert.deepStrictEqual(hubParseRequestTopic("devices/d1/messages/events", "d1"), { kind: "telemetry", bag: "" })
            assert.deepStrictEqual(hubParseRequestTopic("devices/d1/messages/events/", "d1"), { kind: "telemetry", bag: "" })
            assert.deepStrictEqual(hubParseRequestTopic("devices/d1/messages/events/%24.mid=1&a=b", "d1"), { kind: "telemetry", bag: "%24.mid=1&a=b" })
            assert.strictEqual(hubParseRequestTopic("devices/d1/messages/events", "d2"), undefined)
            assert.strictEqual(hubParseRequestTopic("devices/d1/messages/eventsX", "d1"), undefined)
        })

        it("needs a `$rid` on twin requests and method responses, and a three-digit status", () => {
            assert.deepStrictEqual(hubParseRequestTopic("$iothub/twin/GET/?$rid=10", "d"), { kind: "twin-get", rid: "10" })
            assert.deepStrictEqual(hubParseRequestTopic("$iothub/twin/PATCH/properties/reported/?$rid=11&$version=4", "d"), {
                kind: "twin-reported",
                rid: "11",
            })
            assert.deepStrictEqual(hubParseRequestTopic("$iothub/methods/res/404/?$rid=ab", "d"), { kind: "method-response", rid: "ab", status: 404 })
            for (const topic of [
                "$iothub/twin/GET/?rid=10",
                "$iothub/twin/GET/?$rid=",
                "$iothub/twin/GET/$rid=10",
                "x$iothub/twin/GET/?$rid=10",
                "$iothub/twin/PATCH/properties/desired/?$rid=10",
                "$iothub/methods/res/20/?$rid=1",
                "$iothub/methods/res/2000/?$rid=1",
                "$iothub/methods/res/200/?$rid=",
                "$iothub/methods/res/200/$rid=1",
                "x$iothub/methods/res/200/?$rid=1",
                "$iothub/twin/res/200/?$rid=1",
            ])
                assert.strictEqual(hubParseRequestTopic(topic, "d"), undefined, topic)
        })

        it("serves only the four subscription filters IoT Hub serves, C2D for this device or `+`", () => {
            assert.strictEqual(hubSubscriptionKind("devices/d1/messages/devicebound/#", "d1"), "c2d")
            assert.strictEqual(hubSubscriptionKind("devices/+/messages/devicebound/#", "d1"), "c2d")
            assert.strictEqual(hubSubscriptionKind("$iothub/twin/res/#", "d1"), "twin-responses")
            assert.strictEqual(hubSubscriptionKind("$iothub/twin/PATCH/properties/desired/#", "d1"), "twin-desired")
            assert.strictEqual(hubSubscriptionKind("$iothub/methods/POST/#", "d1"), "methods")
            for (const f of ["devices/d2/messages/devicebound/#", "$iothub/twin/res/+", "$iothub/methods/POST/+", "#", "devices/d1/messages/events"])
                assert.strictEqual(hubSubscriptionKind(f, "d1"), undefined, f)
        })

        it("writes the topics the hub publishes byte for byte", () => {
            assert.strictEqual(hubTwinResponseTopic(200, "r1"), "$iothub/twin/res/200/?$rid=r1")
            assert.strictEqual(hubTwinResponseTopic(204, "r2", 5), "$iothub/twin/res/204/?$rid=r2&$version=5")
            assert.strictEqual(hubDesiredPatchTopic(9), "$iothub/twin/PATCH/properties/desired/?$version=9")
            assert.strictEqual(hubMethodRequestTopic("reboot", "3"), "$iothub/methods/POST/reboot/?$rid=3")
            assert.strictEqual(hubC2dTopic("d1", "%24.mid=m"), "devices/d1/messages/devicebound/%24.mid=m")
        })
    })

    describe("property bags", () => {
        it("splits system properties (encoded or raw `$.`) from application ones, decoding names and values", () => {
            const r = propertyBagParse("%24.mid=m1&$.cid=c1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.x=1&temp%20c=21.5&flag&&")
            assert.deepStrictEqual(r, {
                ok: true,
                systemProperties: { messageId: "m1", correlationId: "c1", contentType: "application/json", contentEncoding: "utf-8", "$.x": "1" },
                properties: { "temp c": "21.5", flag: "" },
            })
        })

        it("refuses raw reserved characters, a raw `=` in a value, bad encoding and an empty name", () => {
            for (const bag of ["a=b=c", "a/b=1", "a=#", "a=1:2", "a+=1", "a=%ZZ", "%ZZ=1", "=v", "ok=1&=v"]) {
                const r = propertyBagParse(bag)
                assert.strictEqual(r.ok, false, bag)
            }
            assert.match((propertyBagParse("a=b=c") as { reason: string }).reason, /raw reserved/)
            assert.match((propertyBagParse("a=%ZZ") as { reason: string }).reason, /percent-encoded/)
        })

        it("builds system properties first as `%24.key`, everything percent-encoded, and reads back the same", () => {
            const known = { messageId: "m 1", to: "/devices/d1/messages/devicebound", expiryTimeUtc: "2026-01-01T00:00:00Z" }
            const system = { ...known, custom: "c" }
            const app = { "k&": "v=", plain: "x" }
            const bag = propertyBagBuild(system, app)
            assert.strictEqual(
                bag,
                "%24.mid=m%201&%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound&%24.exp=2026-01-01T00%3A00%3A00Z&%24.custom=c&k%26=v%3D&plain=x"
            )
            assert.deepStrictEqual(propertyBagParse(bag), { ok: true, systemProperties: { ...known, "$.custom": "c" }, properties: app })
            assert.strictEqual(propertyBagBuild({}, {}), "")
        })
    })
})
