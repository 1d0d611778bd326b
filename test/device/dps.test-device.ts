// In-VM: DPS topics, bodies, response parsing and the register/poll/retry decisions.
import { describe, expect, test } from "@devicescript/test"
import { yieldBetweenTests } from "./vm-yield"
import {
    dpsBuildRegisterBody,
    dpsGetPollTopic,
    dpsGetRegisterTopic,
    dpsGetUsername,
    dpsParseResponseBody,
    dpsParseResponseTopic,
    DpsResponse,
    DpsStatus,
} from "../../src/dps/provisioning"
import { DpsAction, DpsAssigned, DpsDecision, DpsPoll, DpsRefused, DpsRetry, dpsDecide } from "../../src/dps/provisioning-policy"
import { Backoff, retryBackoffMs } from "../../src/retry"
import { httpFindDateHeader, httpParseImfFixdate } from "../../src/time/http-date"
import { configParseHostPort } from "../../src/config"

/** A response as the client hands it to dpsDecide: topic parsed, then the body (empty: none; not JSON: refused); null for no match. */
function resp(topic: string, body: string): DpsResponse | null {
    const t = dpsParseResponseTopic(topic)
    if (t === null) return null
    if (body === "") return dpsParseResponseBody(t, null)
    try {
        return dpsParseResponseBody(t, { value: JSON.parse(body), error: null })
    } catch (e) {
        return dpsParseResponseBody(t, { value: undefined, error: "not valid JSON" })
    }
}

/** The decision, checked to be of the kind a test expects before its fields are read. */
function decided(d: DpsDecision, action: DpsAction): DpsDecision {
    expect(d.action).toBe(action)
    return d
}
const poll = (d: DpsDecision) => decided(d, DpsAction.Poll) as DpsPoll
const retried = (d: DpsDecision) => decided(d, DpsAction.Retry) as DpsRetry
const assigned = (d: DpsDecision) => decided(d, DpsAction.Assigned) as DpsAssigned
const refusal = (d: DpsDecision) => decided(d, DpsAction.Refused) as DpsRefused

describe("dps wire format", () => {
    yieldBetweenTests()
    test("username and topics", () => {
        expect(dpsGetUsername("0ne00000A0A", "dev-01")).toBe("0ne00000A0A/registrations/dev-01/api-version=2019-03-31")
        expect(dpsGetRegisterTopic("7")).toBe("$dps/registrations/PUT/iotdps-register/?$rid=7")
        expect(dpsGetPollTopic("8", "4.65f6a")).toBe("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=8&operationId=4.65f6a")
    })
    test("register body with model id or custom payload", () => {
        expect(dpsBuildRegisterBody("dev-01")).toBe('{"registrationId":"dev-01"}')
        expect(dpsBuildRegisterBody("dev-01", "dtmi:com:example:Thermostat;1")).toBe(
            '{"registrationId":"dev-01","payload":{"modelId":"dtmi:com:example:Thermostat;1"}}'
        )
        expect(dpsBuildRegisterBody("dev-01", undefined, '{"site":"b7"}')).toBe('{"registrationId":"dev-01","payload":{"site":"b7"}}')
    })
    test("response topic with rid and retry-after", () => {
        const r = resp("$dps/registrations/res/202/?$rid=12&retry-after=3", '{"operationId":"4.a","status":"assigning"}')
        expect(r.status).toBe(202)
        expect(r.rid).toBe("12")
        expect(r.retryAfterSec).toBe(3)
        expect(r.operationId).toBe("4.a")
        expect(r.operationStatus).toBe(DpsStatus.Assigning)
        expect(r.statusText).toBe("assigning")
        const n = resp("$dps/registrations/res/200/?$rid=a%2Db", "")
        expect(n.retryAfterSec).toBe(-1)
        expect(n.rid).toBe("a-b")
        expect(n.operationStatus).toBe(DpsStatus.None)
        expect(n.bodyError).toBe(null)
        expect(resp("$iothub/twin/res/200/?$rid=1", "{}")).toBe(null)
        expect(resp("$dps/registrations/res/abc/?$rid=1", "{}")).toBe(null)
        const broken = resp("$dps/registrations/res/200/?$rid=1", "{not json")
        expect(broken.operationStatus).toBe(DpsStatus.None)
        expect(broken.bodyError).toBe("not valid JSON")
        expect(resp("$dps/registrations/res/200/?$rid=%zz", "{}")).toBe(null)
        let longRid = ""
        for (let i = 0; i < 100; i++) longRid += "%41%41"
        expect(resp("$dps/registrations/res/200/?$rid=" + longRid, "{}")).toBe(null)
    })
})

describe("dps answers read into typed fields", () => {
    yieldBetweenTests()
    test("each operation status, an unknown one, and none", () => {
        const at = "$dps/registrations/res/200/?$rid=1"
        expect(resp(at, '{"status":"unassigned"}').operationStatus).toBe(DpsStatus.Unassigned)
        expect(resp(at, '{"status":"assigning"}').operationStatus).toBe(DpsStatus.Assigning)
        expect(resp(at, '{"status":"assigned"}').operationStatus).toBe(DpsStatus.Assigned)
        expect(resp(at, '{"status":"failed"}').operationStatus).toBe(DpsStatus.Failed)
        expect(resp(at, '{"status":"disabled"}').operationStatus).toBe(DpsStatus.Disabled)
        const odd = resp(at, '{"status":"someday-0123456789-0123456789-0123456789"}')
        expect(odd.operationStatus).toBe(DpsStatus.Unknown)
        expect(odd.statusText).toBe("someday-0123456789-0123456789-01")
        // Whatever else the body is, it carries no status, and reading it throws nothing.
        for (const body of ['{"status":7}', "42", '"assigned"', "[1]", "null", "{}"]) {
            const r = resp(at, body)
            expect(r.operationStatus).toBe(DpsStatus.None)
            expect(r.statusText).toBe(null)
            expect(r.operationId).toBe(null)
            expect(r.assignedHub).toBe(null)
            expect(r.errorCode).toBe(null)
        }
    })
    test("the assignment's names, each kept only when 1..128 characters", () => {
        const r = resp(
            "$dps/registrations/res/200/?$rid=2",
            '{"operationId":"4.x","status":"assigned","registrationState":{"assignedHub":"h.azure-devices.net","deviceId":"d1"}}'
        )
        expect(r.operationId).toBe("4.x")
        expect(r.assignedHub).toBe("h.azure-devices.net")
        expect(r.deviceId).toBe("d1")
        let long = ""
        for (let i = 0; i < 13; i++) long += "0123456789"
        const bad = resp(
            "$dps/registrations/res/200/?$rid=2",
            '{"operationId":"","status":"assigned","registrationState":{"assignedHub":7,"deviceId":"' + long + '"}}'
        )
        expect(bad.operationId).toBe(null)
        expect(bad.assignedHub).toBe(null)
        expect(bad.deviceId).toBe(null)
        expect(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned","registrationState":"x"}').assignedHub).toBe(null)
    })
    test("errors: at the top of an error answer, in registrationState otherwise", () => {
        const top = resp("$dps/registrations/res/401/?$rid=3", '{"errorCode":401002,"message":"Unauthorized","registrationState":{"errorCode":1}}')
        expect(top.errorCode).toBe("401002")
        expect(top.errorMessage).toBe("Unauthorized")
        expect(resp("$dps/registrations/res/400/?$rid=3", '{"errorMessage":"bad"}').errorMessage).toBe("bad")
        expect(resp("$dps/registrations/res/400/?$rid=3", '{"message":5,"errorMessage":"bad"}').errorMessage).toBe("bad")
        const failed = resp(
            "$dps/registrations/res/200/?$rid=3",
            '{"errorCode":1,"status":"failed","registrationState":{"errorCode":400209,"errorMessage":"no hub","message":"not this"}}'
        )
        expect(failed.errorCode).toBe("400209")
        expect(failed.errorMessage).toBe("no hub")
        const none = resp("$dps/registrations/res/200/?$rid=3", '{"status":"failed","registrationState":{"message":"not this"}}')
        expect(none.errorCode).toBe(null)
        expect(none.errorMessage).toBe(null)
    })
})

describe("dps decisions", () => {
    yieldBetweenTests()
    test("assigning polls after retry-after, or 3 s when absent", () => {
        const d = poll(dpsDecide(resp("$dps/registrations/res/202/?$rid=1&retry-after=5", '{"operationId":"4.x","status":"assigning"}'), 0, 0))
        expect(d.delayMs).toBe(5000)
        expect(d.operationId).toBe("4.x")
        expect(d.message).toBe("assigning")
        const e = poll(dpsDecide(resp("$dps/registrations/res/202/?$rid=1", '{"operationId":"4.x","status":"assigning"}'), 0, 0))
        expect(e.delayMs).toBe(3000)
        const huge = poll(dpsDecide(resp("$dps/registrations/res/202/?$rid=1&retry-after=99999", '{"operationId":"4.x","status":"assigning"}'), 0, 0))
        expect(huge.delayMs).toBe(300000)
        expect(poll(dpsDecide(resp("$dps/registrations/res/202/?$rid=1", '{"operationId":"4.y","status":"unassigned"}'), 0, 0)).message).toBe("unassigned")
    })
    test("assigned needs hub and device id", () => {
        const d = assigned(
            dpsDecide(
                resp(
                    "$dps/registrations/res/200/?$rid=2",
                    '{"operationId":"4.x","status":"assigned","registrationState":{"assignedHub":"h.azure-devices.net","deviceId":"d1","status":"assigned"}}'
                ),
                0,
                0
            )
        )
        expect(d.assignedHub).toBe("h.azure-devices.net")
        expect(d.deviceId).toBe("d1")
    })
    test("an answer that makes no sense is retried with backoff, never final", () => {
        const empty = retried(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned","registrationState":{}}'), 0, 0))
        expect(empty.delayMs).toBe(1000)
        expect(empty.message).toBe("malformed DPS response (assigned without assignedHub/deviceId)")
        const broken = retried(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned"'), 2, 1))
        expect(broken.delayMs).toBe(8000)
        expect(broken.message).toBe("malformed DPS response (status 200, body not valid JSON)")
        expect(retried(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", ""), 0, 0)).message).toBe("malformed DPS response (status 200)")
        expect(retried(dpsDecide(resp("$dps/registrations/res/202/?$rid=2", '{"status":"assigning"}'), 0, 0)).message).toBe(
            "malformed DPS response (no operationId to poll)"
        )
        expect(retried(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"someday"}'), 0, 0)).message).toBe(
            "unknown registration status (someday)"
        )
        retried(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"assigned","registrationState":{"assignedHub":7,"deviceId":"d"}}'), 0, 0))
    })
    test("failed and disabled are refusals with the reason", () => {
        const f = refusal(
            dpsDecide(
                resp(
                    "$dps/registrations/res/200/?$rid=2",
                    '{"operationId":"4.x","status":"failed","registrationState":{"errorCode":400209,"errorMessage":"no hub"}}'
                ),
                0,
                0
            )
        )
        expect(f.message).toBe("allocation failed: 400209 no hub")
        expect(refusal(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"status":"failed"}'), 0, 0)).message).toBe("allocation failed: no reason given")
        const d = refusal(dpsDecide(resp("$dps/registrations/res/200/?$rid=2", '{"operationId":"4.x","status":"disabled"}'), 0, 0))
        expect(d.message).toBe("enrollment is disabled")
    })
    test("429 and 5xx retry with backoff, never faster than retry-after", () => {
        const t = retried(dpsDecide(resp("$dps/registrations/res/429/?$rid=3&retry-after=7", '{"errorCode":429001,"message":"throttled"}'), 0, 0))
        expect(t.delayMs).toBe(7000)
        expect(t.message).toBe("throttled (429 429001 throttled)")
        const s = retried(dpsDecide(resp("$dps/registrations/res/503/?$rid=3&retry-after=0", "{}"), 3, 0.999))
        expect(s.delayMs >= 8000 && s.delayMs <= 16000).toBe(true)
        expect(s.message).toBe("server error (503)")
        // The boundaries: 500 is the first server error, 499, 428 and 430 are the client's.
        retried(dpsDecide(resp("$dps/registrations/res/500/?$rid=3", "{}"), 0, 0))
        retried(dpsDecide(resp("$dps/registrations/res/599/?$rid=3", "{}"), 0, 0))
        for (const status of [499, 428, 430]) refusal(dpsDecide(resp("$dps/registrations/res/" + status + "/?$rid=3", "{}"), 0, 0))
    })
    test("other 4xx are refusals", () => {
        const u = refusal(dpsDecide(resp("$dps/registrations/res/401/?$rid=3", '{"errorCode":401002,"message":"Unauthorized"}'), 0, 0))
        expect(u.message).toBe("registration refused: 401 401002 Unauthorized")
        refusal(dpsDecide(resp("$dps/registrations/res/404/?$rid=3", ""), 0, 0))
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
        // More than one colon is a bare IPv6 address: all host, default port.
        const v6 = configParseHostPort(" fd00::1 ", 8883)
        expect(v6.host).toBe("fd00::1")
        expect(v6.port).toBe(8883)
    })
})
