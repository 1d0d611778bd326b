// In-VM: hub topics and property bags, twin and method logic, the telemetry queue, stored assignments.
import { describe, expect, test } from "@devicescript/test"
import { yieldBetweenTests } from "./vm-yield"
import { propertyBagDecode, propertyBagEncode, propertyBagGet } from "../../src/hub/property-bag"
import {
    hubGetMethodResponseTopic,
    hubGetTelemetryTopic,
    hubGetUsername,
    hubParseC2dTopic,
    hubParseMethodTopic,
    hubParseTwinTopic,
    TwinKind,
    TwinMessage,
} from "../../src/hub/hub-topics"
import { twinBuildIntervalAck, twinParseDesired } from "../../src/app/device-twin"
import { methodHandle } from "../../src/app/direct-methods"
import { TelemetryQueue, telemetryProperties } from "../../src/app/telemetry"
import { storeIsPlausibleValue } from "../../src/store/assignment-store"
import { DeviceApp } from "../../src/app/device-app"
import { hubRenewAtMs, hubTwinAnswer, TwinAnswer } from "../../src/hub/hub-session"
import { SimulatedClimateSensor } from "../../src/app/sensors"

const STATUS = { firmwareVersion: "1.0", intervalSec: 10, uptimeSec: 5, messagesSent: 3, queued: 1, c2dReceived: 2 }

describe("hub wire format", () => {
    yieldBetweenTests()
    test("username with model id", () => {
        expect(hubGetUsername("h.azure-devices.net", "d1", "dtmi:com:example:Thermostat;1")).toBe(
            "h.azure-devices.net/d1/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"
        )
        expect(hubGetUsername("h", "d1")).toBe("h/d1/?api-version=2021-04-12")
    })
    test("telemetry topic with encoded system properties", () => {
        const t = hubGetTelemetryTopic("dev1", telemetryProperties({ seq: 7, body: "{}" }))
        expect(t).toBe("devices/dev1/messages/events/%24.mid=7&%24.ct=application%2Fjson&%24.ce=utf-8")
        expect(propertyBagEncode([{ name: "alert", value: "a&b=c/d" }])).toBe("alert=a%26b%3Dc%2Fd")
    })
    test("C2D topic properties decoded", () => {
        const p = hubParseC2dTopic("dev1", "devices/dev1/messages/devicebound/%24.mid=42&%24.to=%2Fdevices%2Fdev1&color=bl%C3%BCe")
        expect(propertyBagGet(p, "$.mid")).toBe("42")
        expect(propertyBagGet(p, "$.to")).toBe("/devices/dev1")
        expect(propertyBagGet(p, "color")).toBe("blüe")
        expect(propertyBagGet(p, "$.lockToken")).toBe(null)
        expect(hubParseC2dTopic("dev1", "devices/dev1/messages/devicebound/").length).toBe(0)
        expect(hubParseC2dTopic("dev1", "devices/dev2/messages/devicebound/")).toBe(null)
        expect(hubParseC2dTopic("dev1", "$iothub/twin/res/200/?$rid=1")).toBe(null)
        expect(propertyBagDecode("").length).toBe(0)
    })
    test("twin topics: each kind, its status, rid and version", () => {
        const g = hubParseTwinTopic("$iothub/twin/res/200/?$rid=1")
        expect(g.kind).toBe(TwinKind.Get)
        expect(g.status).toBe(200)
        expect(g.rid).toBe("1")
        expect(g.version).toBe(null)
        const r = hubParseTwinTopic("$iothub/twin/res/204/?$rid=5&$version=12")
        expect(r.kind).toBe(TwinKind.Reported)
        expect(r.status).toBe(204)
        expect(r.rid).toBe("5")
        expect(r.version).toBe(12)
        // As azure-sdk-for-c sorts them: 400 and up refused, 204 reported, any other status an answer to a GET.
        expect(hubParseTwinTopic("$iothub/twin/res/400/?$rid=6").kind).toBe(TwinKind.RequestError)
        expect(hubParseTwinTopic("$iothub/twin/res/429/?$rid=6").kind).toBe(TwinKind.RequestError)
        expect(hubParseTwinTopic("$iothub/twin/res/399/?$rid=6").kind).toBe(TwinKind.Get)
        expect(hubParseTwinTopic("$iothub/twin/res/202/?$rid=6").kind).toBe(TwinKind.Get)
        const d = hubParseTwinTopic("$iothub/twin/PATCH/properties/desired/?$version=9")
        expect(d.kind).toBe(TwinKind.Desired)
        expect(d.version).toBe(9)
        expect(d.rid).toBe(null)
        expect(d.status).toBe(200)
        expect(hubParseTwinTopic("$iothub/twin/PATCH/properties/desired/").version).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/PATCH/properties/desired/?$version=x").version).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/res/204/?$rid=5&$version=-3").version).toBe(null)
    })
    test("twin topics: the explicit no-match", () => {
        expect(hubParseTwinTopic("$iothub/twin/res/x")).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/res/200/")).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/res/abc/?$rid=1")).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/res/99/?$rid=1")).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/res/200/?$version=1")).toBe(null)
        expect(hubParseTwinTopic("$iothub/twin/PATCH/properties/reported/?$rid=1")).toBe(null)
        expect(hubParseTwinTopic("$iothub/methods/POST/a/?$rid=1")).toBe(null)
        expect(hubParseTwinTopic("devices/d1/messages/devicebound/")).toBe(null)
    })
    test("a twin answer sorted by the request it answers", () => {
        const answer = (topic: string, getRid: string) => hubTwinAnswer(hubParseTwinTopic(topic) as TwinMessage, getRid)
        expect(answer("$iothub/twin/res/200/?$rid=1", "1")).toBe(TwinAnswer.ApplyTwin)
        expect(answer("$iothub/twin/res/202/?$rid=1", "1")).toBe(TwinAnswer.GetFailed)
        expect(answer("$iothub/twin/res/204/?$rid=1", "1")).toBe(TwinAnswer.GetFailed)
        expect(answer("$iothub/twin/res/500/?$rid=1", "1")).toBe(TwinAnswer.GetFailed)
        expect(answer("$iothub/twin/res/204/?$rid=2&$version=3", "1")).toBe(TwinAnswer.ReportedStored)
        expect(answer("$iothub/twin/res/400/?$rid=2", "1")).toBe(TwinAnswer.RequestFailed)
        // A GET answer for a rid this session did not ask with is no twin to apply.
        expect(answer("$iothub/twin/res/200/?$rid=2", "1")).toBe(TwinAnswer.RequestFailed)
    })
    test("method topics and the no-match", () => {
        const m = hubParseMethodTopic("$iothub/methods/POST/reboot/?$rid=ab12")
        expect(m.name).toBe("reboot")
        expect(m.rid).toBe("ab12")
        expect(hubParseMethodTopic("$iothub/methods/POST/?$rid=1")).toBe(null)
        expect(hubParseMethodTopic("$iothub/methods/POST/reboot/")).toBe(null)
        expect(hubParseMethodTopic("$iothub/twin/res/200/?$rid=1")).toBe(null)
        expect(hubGetMethodResponseTopic(404, "ab12")).toBe("$iothub/methods/res/404/?$rid=ab12")
    })
})

describe("topics a peer controls", () => {
    yieldBetweenTests()
    test("8 KB of separators in a method topic: parsed with native searches, no crash", () => {
        const amps = Buffer.alloc(8000)
        amps.fillAt(0, 8000, 38)
        const m = hubParseMethodTopic("$iothub/methods/POST/reboot/?" + amps.toString("utf-8") + "$rid=9")
        expect(m.rid).toBe("9")
        expect(hubParseMethodTopic("$iothub/methods/POST/reboot/?x$rid=1&$rid=2").rid).toBe("2")
        expect(hubParseMethodTopic("$iothub/methods/POST/reboot/?" + amps.toString("utf-8"))).toBe(null)
    })
})

describe("twin and methods", () => {
    yieldBetweenTests()
    test("desired interval parsed and validated", () => {
        const ok = twinParseDesired({ telemetryInterval: 5, $version: 3 })
        expect(ok.version).toBe(3)
        expect(ok.interval).toBe(5)
        const bad = twinParseDesired({ telemetryInterval: 0.5, $version: 4 })
        expect(bad.intervalInvalid).toBe(true)
        expect(twinParseDesired({ other: 1, $version: 5 }).interval).toBe(-1)
        expect(twinBuildIntervalAck(5, 200, 3, "applied")).toBe('{"telemetryInterval":{"value":5,"ac":200,"av":3,"ad":"applied"}}')
    })
    test("methods: set interval, state, unknown is 404", () => {
        const s = methodHandle("setTelemetryInterval", { seconds: 2 }, STATUS)
        expect(s.status).toBe(200)
        expect(s.newIntervalSec).toBe(2)
        expect(methodHandle("setTelemetryInterval", 7, STATUS).newIntervalSec).toBe(7)
        expect(methodHandle("setTelemetryInterval", { seconds: 0 }, STATUS).status).toBe(400)
        // undefined: the payload was refused before parsing
        expect(methodHandle("setTelemetryInterval", undefined, STATUS).status).toBe(400)
        const st = methodHandle("getDeviceState", null, STATUS)
        expect(st.status).toBe(200)
        expect(JSON.parse(st.body).messagesSent).toBe(3)
        const u = methodHandle("selfDestruct", {}, STATUS)
        expect(u.status).toBe(404)
        expect(u.body).toBe('{"error":"unknown method: selfDestruct"}')
    })
    test("a method name too long for any method is answered without echoing it", () => {
        let name = ""
        for (let i = 0; i < 50; i++) name += "abcdefghij"
        const r = methodHandle(name, {}, STATUS)
        expect(r.status).toBe(404)
        expect(r.body).toBe('{"error":"unknown method (500-character name)"}')
    })
})

describe("device state", () => {
    yieldBetweenTests()
    test("desired updates: applied once, stale versions ignored", () => {
        const app = new DeviceApp("1.0", 10, new SimulatedClimateSensor())
        const acks = app.applyDesiredPatch({ telemetryInterval: 5, $version: 3 })
        expect(acks.length).toBe(1)
        expect(acks[0]).toBe('{"telemetryInterval":{"value":5,"ac":200,"av":3,"ad":"applied"}}')
        expect(app.interval()).toBe(5)
        // A twin GET answered after the update carries an older desired section.
        expect(app.applyTwin({ telemetryInterval: 20, $version: 2 }).length).toBe(0)
        expect(app.applyDesiredPatch({ telemetryInterval: 20, $version: 3 }).length).toBe(0)
        expect(app.interval()).toBe(5)
        expect(app.applyTwin({ telemetryInterval: 7, $version: 4 }).length).toBe(1)
        expect(app.interval()).toBe(7)
        // Whatever JSON a hostile twin holds, it is no desired section: nothing applied, nothing thrown.
        expect(app.applyTwin(42).length).toBe(0)
        expect(app.applyTwin(null).length).toBe(0)
        expect(app.applyDesiredPatch("text").length).toBe(0)
    })
    test("telemetry queue keeps order and a hard cap, counting what it drops", () => {
        const q = new TelemetryQueue(3)
        for (let i = 1; i <= 5; i++) q.push(i, { temperature: i, humidity: 40 })
        expect(q.length()).toBe(3)
        expect(q.dropped).toBe(2)
        expect(q.peek().seq).toBe(3)
        q.ack()
        expect(q.peek().seq).toBe(4)
        q.ack()
        q.ack()
        expect(q.peek()).toBe(null)
        q.ack()
        expect(q.length()).toBe(0)
    })
    test("queued readings come back exactly, negative and with pressure", () => {
        const q = new TelemetryQueue(2)
        q.push(7, { temperature: -12.3, humidity: 45.6 })
        q.push(8, { temperature: 21.05, humidity: 0, pressure: 1013.25 })
        expect(q.peek().body).toBe('{"temperature":-12.3,"humidity":45.6,"seq":7}')
        q.ack()
        expect(q.peek().body).toBe('{"temperature":21.05,"humidity":0,"pressure":1013.25,"seq":8}')
    })
    test("the default queue holds a 10-minute outage at the default interval", () => {
        const app = new DeviceApp("1.0", 10, new SimulatedClimateSensor())
        // 60 readings in 10 minutes, and the way back (one backoff step of at most a minute, DPS not needed).
        expect(app.queue.capacity >= 60 + 6 + 6).toBe(true)
        expect(app.deviceInfoJson()).toBe('{"firmwareVersion":"1.0","telemetryIntervalActive":10,"droppedReadings":0}')
    })
    test("the SAS token is renewed at 80 % of its life", () => {
        expect(hubRenewAtMs(5000, 3600)).toBe(5000 + 2880000)
        expect(hubRenewAtMs(0, 60)).toBe(48000)
        expect(hubRenewAtMs(0, 1)).toBe(800)
    })
    test("stored values are checked before use", () => {
        expect(storeIsPlausibleValue("myhub.azure-devices.net")).toBe(true)
        expect(storeIsPlausibleValue("")).toBe(false)
        expect(storeIsPlausibleValue(42)).toBe(false)
        expect(storeIsPlausibleValue('a"b')).toBe(false)
        let long = ""
        for (let i = 0; i < 20; i++) long += "0123456789"
        expect(storeIsPlausibleValue(long)).toBe(false)
    })
})
