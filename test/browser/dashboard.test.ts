// The dashboard in a real browser (Debian's Chromium driven by playwright-core): the page signs in
// with the connection string `npm run dashboard` prints and drives the real firmware through its
// life — it provisions and shows as connected, its telemetry lands on the chart, a desired-property
// edit, a method call and a C2D message made in the page reach it — plus the IoT Edge uplink switch,
// a CA's proof of possession, and DPS enrollments managed in the page (a second firmware provisions
// with the key the page shows). Without the service credentials there is no data. Ends with a screenshot.
import * as assert from "assert"
import * as fs from "fs"
import * as https from "https"
import * as path from "path"
import { execFile } from "child_process"
import { promisify } from "util"
import { createHash, X509Certificate } from "crypto"
import { BrowserContext, chromium, Page } from "playwright-core"
import { sasBuildToken } from "../../sim/emulator/auth/sas"
import { certToPem, createRootCa, issueClientCert } from "../../sim/pki"
import { individual, group } from "../emulator/fixtures"
import { randomKey, RunningEmulator, startTestEmulator, tempDir, testGateway, testPki } from "../support/emulator"
import { hubDevice } from "../emulator/hub-fixtures"
import { cliFiles } from "../emulator/service-cli-runner"
import { BootedDevice, bootDevice, until } from "../e2e/harness"
import { ROOT } from "../../sim/paths"
import { ServiceClient } from "../../sim/emulator/service/service-client"
import { clientCert } from "../emulator/x509-fixtures"

const CHROMIUM = "/usr/bin/chromium"
const SCREENSHOT = path.join(__dirname, "..", "..", "reports", "dashboard.png")
const DEVICE = "dash-dev-01"
const EDGE = "dash-edge-01"
const LEAF = "dash-leaf-01"
/** Enrolled in the page, not in the config. */
const ENROLLED = "dash-dev-02"
const X509_ENROLLED = "dash-x509-01"
const GROUP = "dash-group-02"

/** A request without a body to the service endpoint: status and JSON, with `authorization` if given. */
function request(
    emu: RunningEmulator,
    method: string,
    pathname: string,
    authorization?: string
): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
        const headers = authorization ? { Authorization: authorization } : undefined
        const req = https.request({ method, host: "localhost", port: emu.servicePort, path: pathname, ca: emu.ca, headers }, (res) => {
            const chunks: Buffer[] = []
            res.on("data", (c) => chunks.push(c))
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString()
                resolve({
                    status: res.statusCode!,
                    json: res.headers["content-type"]?.startsWith("application/json") ? JSON.parse(text) : text,
                    headers: res.headers,
                })
            })
        })
        req.on("error", reject)
        req.end()
    })
}

/** What `npm run dashboard` prints for `emu`: the page's address and the service connection string. */
async function dashboardCli(emu: RunningEmulator): Promise<{ url: string; connectionString: string }> {
    const { config, secrets } = await cliFiles(emu, "localhost")
    const argv = ["-r", "ts-node/register/transpile-only", "sim/emulator/service/dashboard/dashboard-cli.ts", "--config", config, "--secrets", secrets]
    const { stdout } = await promisify(execFile)(process.execPath, argv, { cwd: ROOT })
    return { url: /^dashboard: (\S+)$/m.exec(stdout)![1], connectionString: /^sign in with: (\S+)$/m.exec(stdout)![1] }
}

/** The outcome an action shows in `#id`, once its request has answered (the page shows "…" meanwhile). */
async function settledResult(page: Page, id: string): Promise<string> {
    const shown = await page.waitForFunction((i) => {
        const text = document.getElementById(i)!.textContent!
        return text !== "" && text !== "…" && text
    }, id)
    return (await shown.jsonValue()) as string
}

/** Shows the device in the page, its retained telemetry and twin loaded. */
async function select(page: Page): Promise<void> {
    await page.click(`tr[data-device="${DEVICE}"]`)
    await page.waitForSelector(`#device-section[data-loaded="${DEVICE}"]`)
}

/** The device's active telemetry interval, as it answers getDeviceState. */
async function activeInterval(emu: RunningEmulator): Promise<number> {
    return ((await emu.emulator.service.invokeMethod(DEVICE, "getDeviceState", null, 10)).payload as any).telemetryInterval
}

/** base64 SHA-256 of the server certificate's public key: Chromium accepts that certificate (and no other) from the test CA. */
function spkiHash(certFile: string): string {
    const spki = new X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: "spki", format: "der" })
    return createHash("sha256").update(spki).digest("base64")
}

describe("dashboard in a headless browser", function () {
    this.timeout(60000)
    let emu: RunningEmulator
    let context: BrowserContext
    let page: Page
    let device: BootedDevice
    let signIn: { url: string; connectionString: string }
    const enrollment = individual(DEVICE)
    const serviceToken = (key: string) => sasBuildToken(encodeURIComponent("localhost"), Math.floor(Date.now() / 1000) + 600, key, "iothubowner")

    before(async () => {
        emu = await startTestEmulator({
            devices: [hubDevice(EDGE), { ...hubDevice(LEAF), parent: EDGE }],
            enrollments: [enrollment, group("dash-fleet")],
            edges: [(await testGateway(EDGE)).gateway],
        })
        const pki = await testPki()
        context = await chromium.launchPersistentContext(tempDir("dash-chromium"), {
            executablePath: CHROMIUM,
            headless: true,
            viewport: { width: 1280, height: 900 },
            args: [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                `--ignore-certificate-errors-spki-list=${spkiHash(pki.serverCertFile)}`,
            ],
        })
        page = context.pages()[0] ?? (await context.newPage())
        // Signed in first: the device then appears, connects and sends while the page watches.
        signIn = await dashboardCli(emu)
        await page.goto(signIn.url)
        await page.fill("#connection-string", signIn.connectionString)
        await page.click("#signin button")
        await page.waitForSelector("#live.on")
        device = await bootDevice(emu, { REG_ID: DEVICE, DEVICE_KEY: enrollment.attestation.primaryKey, INTERVAL: 1 })
    })
    after(async () => {
        await device?.stop()
        await context?.close()
        await emu?.stop()
    })

    it("serves the page to anyone but no data without the service credentials", async () => {
        const pageAnswer = await request(emu, "GET", "/dashboard/")
        assert.strictEqual(pageAnswer.status, 200)
        assert.match(String(pageAnswer.headers["content-security-policy"]), /script-src 'self'/)
        const keys = `/dashboard/api/enrollments/individual/${DEVICE}/keys`
        for (const p of ["/dashboard/api/overview", "/dashboard/api/stream", `/dashboard/api/telemetry/${LEAF}`, keys]) {
            assert.strictEqual((await request(emu, "GET", p)).status, 401, `${p} without a token`)
            assert.strictEqual((await request(emu, "GET", p, serviceToken(randomKey()))).status, 401, `${p} signed by another key`)
        }
        const deletion = await request(emu, "DELETE", `/dashboard/api/enrollments/individual/${DEVICE}`, serviceToken(randomKey()))
        assert.strictEqual(deletion.status, 401)
        assert.ok(emu.emulator.enrollments.get("individual", DEVICE), "the enrollment stays")
        const signed = await request(emu, "GET", "/dashboard/api/overview", serviceToken(emu.serviceKey))
        assert.strictEqual(signed.status, 200)
        assert.deepStrictEqual(signed.json.hubs, ["localhost"])
        // No key of any enrollment or device leaves the endpoint.
        for (const key of [enrollment.attestation.primaryKey, enrollment.attestation.secondaryKey, emu.serviceKey])
            assert.ok(!JSON.stringify(signed.json).includes(key))

        const other = await context.newPage()
        try {
            await other.goto(signIn.url)
            await other.fill("#connection-string", signIn.connectionString.replace(emu.serviceKey, randomKey()))
            await other.click("#signin button")
            await other.waitForSelector("#signin-error:not([hidden])")
            assert.match((await other.textContent("#signin-error"))!, /401.*signature does not match/)
            assert.strictEqual(await other.isHidden("#app"), true)
        } finally {
            await other.close()
        }
    })

    it("signs in with what npm run dashboard prints, the key kept out of the page, and shows the device connecting live", async () => {
        assert.strictEqual(signIn.url, `https://localhost:${emu.servicePort}/dashboard/`)
        assert.strictEqual(signIn.connectionString, `HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=${emu.serviceKey}`)
        assert.strictEqual(await page.inputValue("#connection-string"), "", "the key does not stay in the field")
        assert.ok(!page.url().includes(emu.serviceKey))
        assert.deepStrictEqual(await context.cookies(), [])
        assert.strictEqual(await page.evaluate(() => localStorage.length + sessionStorage.length), 0)
        // The page was open before the device existed: these rows come from the live stream.
        await page.waitForSelector(`tr[data-device="${DEVICE}"] .badge.Connected`)
        await page.waitForSelector(`tr[data-registration="${DEVICE}"] .badge.assigned`)
        assert.strictEqual(emu.emulator.service.getDevice(DEVICE).connectionState, "Connected")
    })

    it("charts the device's telemetry as it arrives", async () => {
        await select(page)
        const points = `.series[data-field="temperature"] circle.point`
        await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 3, points)
        const shown = await page.$$eval(points, (cs) => cs.map((c) => [Number(c.getAttribute("data-seq")), Number(c.getAttribute("data-value"))]))
        const atHub = new Map(emu.emulator.service.telemetry(DEVICE).map((m) => [m.sequenceNumber, JSON.parse(m.body.toString()).temperature]))
        for (const [seq, value] of shown) assert.strictEqual(value, atHub.get(seq), `point #${seq}`)
        // Live: a later message becomes a new point without reloading.
        const before = shown.length
        await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel as string).length > (n as number), [points, before] as const)
    })

    it("a desired-property edit in the page reaches the device, which acknowledges it", async () => {
        await select(page)
        const current = await activeInterval(emu)
        const target = current === 2 ? 3 : 2
        await page.fill("#desired", JSON.stringify({ telemetryInterval: target }))
        await page.click("#desired-send")
        await device.line(new RegExp(`^app: telemetry interval ${current} s -> ${target} s`))
        const ack = await until("the device's ack", () => {
            const r = (emu.emulator.service.getTwin(DEVICE).properties as any).reported.telemetryInterval
            return r?.value === target && r.ac === 200 ? r : undefined
        })
        assert.match(await settledResult(page, "desired-result"), new RegExp(`desired version ${ack.av}`))
        // The page follows the twin: the device's acknowledgement shows up there too.
        await page.waitForFunction((v) => {
            const reported = JSON.parse(document.getElementById("reported")!.textContent!)
            return reported.telemetryInterval?.value === v && reported.telemetryInterval.ac === 200
        }, target)
    })

    it("invokes a direct method from the page and shows the device's answer", async () => {
        await select(page)
        const current = await activeInterval(emu)
        const target = current === 1 ? 2 : 1
        await page.fill("#method-name", "setTelemetryInterval")
        await page.fill("#method-payload", JSON.stringify({ seconds: target }))
        await page.fill("#method-timeout", "10")
        await page.click("#method-invoke")
        await device.line(new RegExp(`^app: telemetry interval ${current} s -> ${target} s`))
        const text = await settledResult(page, "method-result")
        assert.match(text, /^status 200/)
        assert.deepStrictEqual(JSON.parse(text.slice(text.indexOf("\n"))), { telemetryInterval: target })
    })

    it("sends a cloud-to-device message from the page", async () => {
        await select(page)
        await page.fill("#c2d-body", "hello from the dashboard")
        await page.fill("#c2d-props", "color=green")
        await page.click("#c2d-send")
        await device.line(/^hub: c2d message .*color=green body hello from the dashboard/)
        assert.match(await settledResult(page, "c2d-result"), /^queued as \S+/)
    })

    it("shows the edge gateway with its child and switches its uplink", async () => {
        const row = `tr[data-edge="${EDGE}"]`
        await page.waitForSelector(`${row}:has-text("${LEAF}")`)
        await page.click(`${row} button.uplink`)
        await page.waitForSelector(`${row} .badge.down`)
        assert.strictEqual(emu.emulator.edges.get(EDGE)!.uplinkUp, false)
        await page.click(`${row} button.uplink`)
        await page.waitForSelector(`${row} .badge.up`)
        assert.strictEqual(emu.emulator.edges.get(EDGE)!.uplinkUp, true)
    })

    it("uploads a CA certificate and proves possession of its key from the page", async () => {
        const ca = await createRootCa({ commonName: "Dashboard Fleet CA" })
        await page.fill("#ca-name", "fleet-ca")
        await page.fill("#ca-pem", certToPem(ca.cert))
        await page.click("#ca-upload")
        const row = `tr[data-certificate="fleet-ca"]`
        await page.waitForSelector(`${row} .badge.unverified`)
        await page.click(`${row} button.generate-code`)
        const code = (await (await page.waitForSelector("#verification-code")).textContent())!
        const proof = await issueClientCert(ca, { commonName: code })
        await page.fill("#verify-pem", certToPem(proof.cert))
        await page.click("#verify-send")
        await page.waitForSelector(`${row} .badge.verified`)
        assert.strictEqual(emu.emulator.dps.getCaCertificate("fleet-ca").isVerified, true)
    })

    it("enrolls a device in the page, whose firmware provisions with the key only Show keys reveals", async () => {
        await page.selectOption("#enroll-kind", "individual")
        await page.selectOption("#enroll-attestation", "symmetricKey")
        // Adding never replaces: the config's enrollment and its keys stay.
        await page.fill("#enroll-id", DEVICE)
        await page.click("#enroll-create")
        assert.match(await settledResult(page, "enrollment-result"), new RegExp(`^409 .*enrollment ${DEVICE} already exists`))
        assert.deepStrictEqual(emu.emulator.enrollments.get("individual", DEVICE)!.attestation, enrollment.attestation)
        await page.fill("#enroll-id", ENROLLED)
        await page.click("#enroll-create")
        assert.strictEqual(await settledResult(page, "enrollment-result"), `created enrollment ${ENROLLED}`)
        const row = `tr[data-kind="individual"][data-enrollment="${ENROLLED}"]`
        await page.waitForSelector(row)
        await page.click(`${row} button.show-keys`)
        assert.match(await settledResult(page, "enrollment-result"), new RegExp(`^keys of enrollment ${ENROLLED}: primary `))
        const key = (await page.textContent("#enrollment-primary-key"))!
        // Generated as DPS does (64 random bytes), and never part of the list.
        assert.strictEqual(Buffer.from(key, "base64").length, 64)
        assert.ok(!(await page.textContent("#enrollments"))!.includes(key))
        const second = await bootDevice(emu, { REG_ID: ENROLLED, DEVICE_KEY: key, INTERVAL: 5 })
        try {
            await page.waitForSelector(`tr[data-registration="${ENROLLED}"] .badge.assigned`)
            await page.waitForSelector(`tr[data-device="${ENROLLED}"] .badge.Connected`)
        } finally {
            await second.stop()
        }
    })

    it("enrolls an X.509 device from its certificate's PEM in the page, which then provisions with that certificate", async () => {
        const cert = await issueClientCert(undefined, { commonName: X509_ENROLLED })
        await page.selectOption("#enroll-kind", "individual")
        await page.selectOption("#enroll-attestation", "x509")
        await page.fill("#enroll-id", X509_ENROLLED)
        await page.fill("#enroll-cert", certToPem(cert.cert))
        await page.click("#enroll-create")
        assert.strictEqual(await settledResult(page, "enrollment-result"), `created enrollment ${X509_ENROLLED}`)
        const row = `tr[data-kind="individual"][data-enrollment="${X509_ENROLLED}"]`
        assert.strictEqual(await page.textContent(`${row} td:nth-child(4)`), "x509")
        assert.strictEqual(await page.$(`${row} button.show-keys`), null, "a certificate has no keys to show")
        const x509 = await bootDevice(emu, { REG_ID: X509_ENROLLED, ATTESTATION: "x509", INTERVAL: 5 }, { clientIdentity: await clientCert(cert) })
        try {
            await page.waitForSelector(`tr[data-registration="${X509_ENROLLED}"] .badge.assigned`)
        } finally {
            await x509.stop()
        }
    })

    it("creates and deletes an enrollment group in the page, and drops an enrollment deleted elsewhere live", async () => {
        const groupKey = randomKey()
        await page.selectOption("#enroll-kind", "group")
        await page.selectOption("#enroll-attestation", "symmetricKey")
        await page.fill("#enroll-id", GROUP)
        await page.fill("#enroll-primary", groupKey)
        await page.click("#enroll-create")
        assert.strictEqual(await settledResult(page, "enrollment-result"), `created enrollment group ${GROUP}`)
        const row = `tr[data-kind="group"][data-enrollment="${GROUP}"]`
        await page.click(`${row} button.show-keys`)
        await settledResult(page, "enrollment-result")
        assert.strictEqual(await page.textContent("#enrollment-primary-key"), groupKey)
        page.once("dialog", (d) => d.accept())
        await page.click(`${row} button.delete`)
        assert.strictEqual(await settledResult(page, "enrollment-result"), `deleted enrollment group ${GROUP}`)
        await page.waitForSelector(row, { state: "detached" })
        assert.strictEqual(emu.emulator.enrollments.get("group", GROUP), undefined)

        // Deleted through DPS's service API, not the page: only the live stream can tell the page.
        const client = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: "localhost", serviceKey: emu.serviceKey })
        await client.azure("dps", "DELETE", `/enrollments/${ENROLLED}`)
        await page.waitForSelector(`tr[data-kind="individual"][data-enrollment="${ENROLLED}"]`, { state: "detached" })
        await page.waitForSelector(`tr[data-registration="${ENROLLED}"]`)
    })

    it("leaves a screenshot a person can look at", async () => {
        await select(page)
        await page.waitForSelector(`.series[data-field="temperature"] circle.point`)
        fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
        await page.screenshot({ path: SCREENSHOT, fullPage: true })
        assert.ok(fs.statSync(SCREENSHOT).size > 10_000)
    })
})
