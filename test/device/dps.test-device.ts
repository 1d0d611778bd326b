// In-VM: DPS topics, bodies, response parsing and the register/poll/retry decisions.
import { describe, expect, test } from "@devicescript/test"
import { yieldBetweenTests } from "./vm-yield"
import {
    dpsBuildRegisterBody,
    dpsGetPollTopic,
    dpsGetRegisterTopic,
    dpsGetUsername,
    dpsParseResponseTopic,
} from "../../src/dps/provisioning"
import { DPS_ASSIGNED, DPS_POLL, DPS_REFUSED, DPS_RETRY, dpsDecide } from "../../src/dps/provisioning-policy"
import { Backoff, retryBackoffMs } from "../../src/retry"
import { httpFindDateHeader, httpParseImfFixdate } from "../../src/time/http-date"
import { configParseHostPort } from "../../src/config"

/** A response as the client hands it to dpsDecide: topic parsed, body parsed (null when empty or not JSON). */
function resp(topic: string, body: string) {
    const r = dpsParseResponseTopic(topic)
    if (r === null || body === "") return r
    try {
        r.body = JSON.parse(body)
    } catch (e) {
        r.bodyError = "not valid JSON"
    }
    return r
}

describe("dps wire format", () => {
    yieldBetweenTests()
    test("username and topics", () => {
        expect(dpsGetUsername("0ne00000A0A", "dev-01")).toBe("0ne00000A0A/registrations/dev-01/api-version=2019-03-31")
        expect(dpsGetRegisterTopic("7")).toBe("$dps/registrations/PUT/iotdps-register/?$rid=7")
        expect(dpsGetPollTopic("8", "4.65f6a")).toBe(
            "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=8&operationId=4.65f6a"
        )
    })
    test("register body with model id or custom payload", () => {
        expect(dpsBuildRegisterBody("dev-01")).toBe('{"registrationId":"dev-01"}')
        expect(dpsBuildRegisterBody("dev-01", "dtmi:com:example:Thermostat;1")).toBe(
            '{"registrationId":"dev-01","payload":{"modelId":"dtmi:com:example:Thermostat;1"}}'
        )
        expect(dpsBuildRegisterBody("dev-01", undefined, '{"site":"b7"}')).toBe(
            '{"registrationId":"dev-01","payload":{"site":"b7"}}'
        )
    })
    test("response topic with rid and retry-after", () => {
        const r = resp("$dps/registrations/res/202/?$rid=12&retry-after=3", '{"operationId":"4.a","status":"assigning"}')
        expect(r.status).toBe(202)
        expect(r.rid).toBe("12")
        expect(r.retryAfterSec).toBe(3)
        expect(r.body.operationId).toBe("4.a")
        const n = resp("$dps/registrations/res/200/?$rid=a%2Db", "")
        expect(n.retryAfterSec).toBe(-1)
        expect(n.rid).toBe("a-b")
        expect(n.body).toBe(null)
        expect(resp("$iothub/twin/res/200/?$rid=1", "{}")).toBe(null)
        expect(resp("$dps/registrations/res/abc/?$rid=1", "{}")).toBe(null)
        expect(resp("$dps/registrations/res/200/?$rid=1", "{not json").body).toBe(null)
        expect(resp("$dps/registrations/res/200/?$rid=%zz", "{}")).toBe(null)
        let longRid = ""
        for (let i = 0; i < 100; i++) longRid += "%41%41"
        expect(resp("$dps/registrations/res/200/?$rid=" + longRid, "{}")).toBe(null)
    })
})

describe("dps decisions", () => {
    yieldBetweenTests()
    test("assigning polls after retry-after, or 3 s when absent", () => {
        const d = dpsDecide(resp("$dps/registrations/res/202/?$rid=1&retry-after=5", '{"operationId":"4.x","status":"assigning"}'), 0, 0)
        expect(d.action).toBe(DPS_POLL)
        expect(d.delayMs).toBe(5000)
        expect(d.operationId).toBe("4.x")
        const e = dpsDecide(resp("$dps/registrations/res/202/?$rid=1", '{"operationId":"4.x","status":"assigning"}'), 0, 0)
        expect(e.delayMs).toBe(3000)
        const huge = dpsDecide(resp("$dps/registrations/res/202/?$rid=1&retry-after=99999", '{"operationId":"4.x","status":"assigning"}'), 0, 0)
        expect(huge.delayMs).toBe(300000)
    })
    test("assigned needs hub and device id", () => {
        const d = dpsDecide(
            resp("$dps/registrations/res/200/?$rid=2", '{"operationId":"4.x","status":"assigned","registrationState":{"assignedHub":"h.azure-devices.net","deviceId":"d1","status":"assigned"}}'),
            0, 0
        )
        expect(d.action).toBe(DPS_ASSIGNED)
        expect(d.assignedHub).toBe("h.azure-devices.net")
        expect(d.deviceId).toBe("d1")
    })
    test("an answer that makes no sense is retried with backoff, never final", () => {
        const empty = dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned","registrationState":{}}'), 0, 0)
        expect(empty.action).toBe(DPS_RETRY)
        expect(empty.delayMs).toBe(1000)
        const broken = dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned"'), 2, 1)
        expect(broken.action).toBe(DPS_RETRY)
        expect(broken.delayMs).toBe(8000)
        expect(broken.message).toBe("malformed DPS response (status 200, body not valid JSON)")
        expect(dpsDecide(resp("$dps/registrations/res/202/?$rid=2", '{"status":"assigning"}'), 0, 0).action).toBe(DPS_RETRY)
        expect(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"someday"}'), 0, 0).action).toBe(DPS_RETRY)
        expect(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned","registrationState":{"assignedHub":7,"deviceId":"d"}}'), 0, 0).action).toBe(DPS_RETRY)
    })
    test("failed and disabled are refusals with the reason", () => {
        const f = dpsDecide(
            resp("$dps/registrations/res/200/?$rid=2", '{"operationId":"4.x","status":"failed","registrationState":{"errorCode":400209,"errorMessage":"no hub"}}'),
            0, 0
        )
        expect(f.action).toBe(DPS_REFUSED)
        expect(f.message).toBe("allocation failed: 400209 no hub")
        const d = dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"operationId":"4.x","status":"disabled"}'), 0, 0)
        expect(d.action).toBe(DPS_REFUSED)
        expect(d.message).toBe("enrollment is disabled")
    })
    test("429 and 5xx retry with backoff, never faster than retry-after", () => {
        const t = dpsDecide(resp("$dps/registrations/res/429/?$rid=3&retry-after=7", '{"errorCode":429001,"message":"throttled"}'), 0, 0)
        expect(t.action).toBe(DPS_RETRY)
        expect(t.delayMs).toBe(7000)
        const s = dpsDecide(resp("$dps/registrations/res/503/?$rid=3&retry-after=0", "{}"), 3, 0.999)
        expect(s.action).toBe(DPS_RETRY)
        expect(s.delayMs >= 8000 && s.delayMs <= 16000).toBe(true)
        // The boundaries: 500 is the first server error, 499, 428 and 430 are the client's.
        expect(dpsDecide(resp("$dps/registrations/res/500/?$rid=3", "{}"), 0, 0).action).toBe(DPS_RETRY)
        expect(dpsDecide(resp("$dps/registrations/res/599/?$rid=3", "{}"), 0, 0).action).toBe(DPS_RETRY)
        for (const status of [499, 428, 430])
            expect(dpsDecide(resp("$dps/registrations/res/" + status + "/?$rid=3", "{}"), 0, 0).action).toBe(DPS_REFUSED)
    })
    test("other 4xx are refusals", () => {
        const u = dpsDecide(resp("$dps/registrations/res/401/?$rid=3", '{"errorCode":401002,"message":"Unauthorized"}'), 0, 0)
        expect(u.action).toBe(DPS_REFUSED)
        expect(u.message).toBe("registration refused: 401 401002 Unauthorized")
        expect(dpsDecide(resp("$dps/registrations/res/404/?$rid=3", ""), 0, 0).action).toBe(DPS_REFUSED)
    })
    test("backoff doubles, caps, jitters", () => {
        expect(retryBackoffMs(0, 1000, 60000, 1)).toBe(1000)
        expect(retryBackoffMs(0, 1000, 60000, 0)).toBe(500)
        expect(retryBackoffMs(3, 1000, 60000, 1)).toBe(8000)
        expect(retryBackoffMs(30, 1000, 60000, 1)).toBe(60000)
    })
    test("a Backoff grows until reset, and never past its cap", () => {
        const b = new Backoff(1000, 8000)
        expect(b.next(1)).toBe(1000)
        expect(b.next(1)).toBe(2000)
        expect(b.next(1)).toBe(4000)
        expect(b.next(1)).toBe(8000)
        for (let i = 0; i < 100; i++) b.next(1)
        expect(b.next(1)).toBe(8000)
        expect(b.next(0)).toBe(4000)
        b.reset()
        expect(b.failures()).toBe(0)
        expect(b.next(1)).toBe(1000)
    })
})

describe("time and settings", () => {
    yieldBetweenTests()
    test("IMF-fixdate", () => {
        expect(httpParseImfFixdate("Sun, 06 Nov 1994 08:49:37 GMT")).toBe(784111777)
        expect(httpParseImfFixdate("Sat, 01 Jan 2030 00:00:00 GMT")).toBe(1893456000)
        expect(httpParseImfFixdate("Thu, 29 Feb 2024 23:59:59 GMT")).toBe(1709251199)
        expect(httpParseImfFixdate("Sun, 06 Foo 1994 08:49:37 GMT")).toBe(-1)
        expect(httpParseImfFixdate("Sun, 06 Nov 1994 08:49 GMT")).toBe(-1)
        expect(httpParseImfFixdate("garbage")).toBe(-1)
    })
    test("Date header found case-insensitively", () => {
        expect(httpFindDateHeader("HTTP/1.1 200 OK\r\nServer: x\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT")).toBe("Sun, 06 Nov 1994 08:49:37 GMT")
        expect(httpFindDateHeader("HTTP/1.1 200 OK\r\nServer: x")).toBe(null)
    })
    test("host[:port]", () => {
        const a = configParseHostPort("localhost:18883", 8883)
        expect(a.host).toBe("localhost")
        expect(a.port).toBe(18883)
        expect(configParseHostPort("global.azure-devices-provisioning.net", 8883).port).toBe(8883)
        expect(() => configParseHostPort("h:99999", 1)).toThrow()
        expect(() => configParseHostPort("h:12x", 1)).toThrow()
    })
})
