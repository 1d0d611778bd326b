// The HTTPS time endpoint a device learns Unix time from.
import * as assert from "assert"
import * as https from "https"
import * as tls from "tls"
import { RunningEmulator, startEmulator } from "./fixtures"

function request(port: number, ca: string, method: string, host = "localhost") {
    return new Promise<{ status: number; date?: string; body: string }>((resolve, reject) => {
        const req = https.request({ host, port, method, path: "/", ca, servername: host === "localhost" ? host : undefined }, (res) => {
            let body = ""
            res.on("data", (d) => (body += d))
            res.on("end", () => resolve({ status: res.statusCode!, date: res.headers.date, body }))
        })
        req.on("error", reject)
        req.end()
    })
}

describe("time endpoint", () => {
    let emu: RunningEmulator
    before(async () => {
        emu = await startEmulator([])
    })
    after(() => emu.stop())

    for (const method of ["HEAD", "GET"])
        it(`answers ${method} with 200 and the current Date over TLS to localhost`, async () => {
            const r = await request(emu.httpsPort, emu.ca, method)
            assert.strictEqual(r.status, 200)
            assert.match(r.date!, /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/)
            // The device sets its clock from this: it must be the real time, not a fixed value.
            assert.ok(Math.abs(Date.parse(r.date!) - Date.now()) < 60_000)
        })

    it("is reachable as 127.0.0.1 too (the certificate names both)", async () => {
        assert.strictEqual((await request(emu.httpsPort, emu.ca, "HEAD", "127.0.0.1")).status, 200)
    })

    it("refuses other methods with 405", async () => {
        assert.strictEqual((await request(emu.httpsPort, emu.ca, "POST")).status, 405)
    })

    it("fails the handshake for a client that does not trust the emulator's CA, and keeps serving", async () => {
        await assert.rejects(request(emu.httpsPort, tls.rootCertificates.join("\n"), "HEAD"), /self[- ]signed|unable to (get|verify)/i)
        assert.strictEqual((await request(emu.httpsPort, emu.ca, "HEAD")).status, 200)
    })
})
