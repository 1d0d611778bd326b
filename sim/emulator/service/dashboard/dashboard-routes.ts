// The dashboard's HTTP side, under /dashboard on the service endpoint. The page and its assets are
// served without credentials (they hold no data); the JSON it needs beyond the endpoint's own routes
// (overview, retained telemetry, the live stream, enrollment changes and keys) answers only requests
// signed like every other one, with a SAS token of the service policy, which the page derives in the
// browser from the pasted connection string. The live stream is NDJSON over a streamed fetch:
// EventSource cannot send headers.
import * as fs from "fs"
import * as http from "http"
import * as path from "path"
import { describeEvent, EmulatorEventName } from "../../events"
import { HubService, HubServiceError } from "../service"
import { DpsService } from "../dps-service"
import { TelemetryMessage } from "../../state/hub-registry"
import { telemetryJson } from "../service-endpoint"
import { DashboardSources } from "./dashboard-sources"
import { DpsRest, dpsRestError } from "../dps-rest/dps-rest"
import { RestAnswer, RestError, restObject } from "../azure-rest"
import { MAX_BODY_BYTES, readBodyText } from "../request-body"
import { EnrollmentKind } from "../../state/enrollments"
import { DurableBarrier } from "../../transport/mqtt-connection"

export const DASHBOARD_PATH = /^\/dashboard(\/|$)/

const STATIC_DIR = path.join(__dirname, "static")
const ASSETS: Record<string, [file: string, type: string]> = {
    "/dashboard": ["index.html", "text/html; charset=utf-8"],
    "/dashboard/": ["index.html", "text/html; charset=utf-8"],
    "/dashboard/dashboard.js": ["dashboard.js", "text/javascript; charset=utf-8"],
    "/dashboard/dashboard.css": ["dashboard.css", "text/css; charset=utf-8"],
}

// Only the page's own files run; nothing is framed, fetched or posted elsewhere.
const SECURITY_HEADERS = {
    "Content-Security-Policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

/** What the live stream forwards besides telemetry: changes the page shows (never requests, which its own refreshes cause). */
const FOLLOWED = new Set<EmulatorEventName>([
    "dps.assigned",
    "dps.failed",
    "dps.certificate",
    "dps.enrollment",
    "hub.connect",
    "hub.refused",
    "hub.device",
    "hub.twin.reported",
    "hub.twin.desired",
    "hub.c2d.queued",
    "hub.c2d.sent",
    "hub.c2d.completed",
    "hub.method.request",
    "hub.method.response",
    "edge.uplink",
    "edge.stored",
    "edge.dropped",
    "connection.close",
])

/** A stream reader that stops reading is dropped past this many unsent bytes. */
const STREAM_MAX_BUFFERED = 1024 * 1024

export interface DashboardContext {
    hub: HubService
    dps: DpsService
    /** DPS's service API, whose enrollment writes the page's enrollment routes make. */
    dpsRest?: DpsRest
    sources: DashboardSources
    /** The store's barrier: a change is answered once it is on disk. */
    durable?: DurableBarrier
    /** Why the request's credentials are refused, or undefined when they are the service policy's. */
    authorize: () => string | undefined
    /** Reports the answer's status (the endpoint's `service.request` event). */
    answered: (status: number) => void
}

/** `/dashboard/api/enrollments/{individual|group}/{id}[/keys]` */
const ENROLLMENT_PATH = /^\/dashboard\/api\/enrollments\/(individual|group)\/([^/]+)(\/keys)?$/

export function serveDashboard(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, ctx: DashboardContext): void {
    const reply = (status: number, json?: unknown) => {
        const text = json === undefined ? "" : JSON.stringify(json)
        const send = () => {
            res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) })
            res.end(text)
            ctx.answered(status)
        }
        const barrier = ctx.durable?.()
        if (barrier) void barrier.then(send)
        else send()
    }
    const enrollment = ENROLLMENT_PATH.exec(pathname)
    // Only an enrollment's creation reads a body.
    if (!(enrollment && req.method === "POST")) req.resume()
    if (req.method !== "GET" && !enrollment) return reply(405, { errorCode: 405000, message: `${req.method} is not served on ${pathname}` })
    const asset = ASSETS[pathname]
    if (asset) {
        const body = fs.readFileSync(path.join(STATIC_DIR, asset[0]))
        res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": asset[1], "Content-Length": body.length })
        res.end(body)
        return ctx.answered(200)
    }
    if (!pathname.startsWith("/dashboard/api/")) return reply(404, { errorCode: 404000, message: `no page ${pathname}` })
    const refused = ctx.authorize()
    if (refused) {
        req.resume()
        return reply(401, { errorCode: 401002, message: `unauthorized: ${refused}` })
    }
    if (enrollment)
        return void enrollmentRoute(req, enrollment, ctx).then(
            (a) => reply(a.status, a.json),
            (e) => {
                const { status, json } = dpsRestError(e, new Date())
                reply(status, json)
            }
        )
    try {
        if (pathname === "/dashboard/api/overview") return reply(200, overview(ctx))
        if (pathname === "/dashboard/api/stream") return stream(res, ctx)
        const telemetry = /^\/dashboard\/api\/telemetry\/([^/]+)$/.exec(pathname)
        if (telemetry) return reply(200, ctx.hub.telemetry(decodeURIComponent(telemetry[1])).map(telemetryJson))
        reply(404, { errorCode: 404000, message: `no route GET ${pathname}` })
    } catch (e) {
        const code = e instanceof HubServiceError ? e.errorCode : e instanceof URIError ? 400004 : 500000
        reply(Math.floor(code / 1000), { errorCode: code, message: (e as Error).message })
    }
}

/**
 * The page's enrollment changes, made by DPS's service API itself (its checks, its store, its
 * `dps.enrollment` events): POST creates (a DPS IndividualEnrollment or EnrollmentGroup body), DELETE
 * deletes, GET .../keys shows the attestation mechanism with its keys, as DPS's attestationmechanism does.
 */
async function enrollmentRoute(req: http.IncomingMessage, [, kind, encodedId, keys]: RegExpExecArray, ctx: DashboardContext): Promise<RestAnswer> {
    const rest = ctx.dpsRest
    if (!rest) throw new RestError(404, "NotFound", "this emulator serves no DPS service API")
    let id: string
    try {
        id = decodeURIComponent(encodedId)
    } catch {
        throw new RestError(400, "ArgumentInvalid", "malformed id in the path")
    }
    const k = kind as EnrollmentKind
    const route = `${req.method}${keys ?? ""}`
    if (route === "GET/keys") return { status: 200, json: rest.keys(k, id) }
    if (route === "DELETE") {
        rest.delete(k, id, undefined)
        return { status: 204 }
    }
    if (route !== "POST") throw new RestError(405, "MethodNotAllowed", `${req.method} is not served on ${req.url}`)
    const text = await readBodyText(req, () => new RestError(413, "RequestEntityTooLarge", `request body over ${MAX_BODY_BYTES} bytes`))
    let body: unknown
    try {
        body = JSON.parse(text)
    } catch {
        throw new RestError(400, "ArgumentInvalid", "request body is not JSON")
    }
    return { ...rest.create(k, id, restObject(body, "the enrollment")), status: 201 }
}

function overview(ctx: DashboardContext) {
    const { sources } = ctx
    return {
        hubs: sources.hubs(),
        devices: ctx.hub.listDevices(),
        edges: sources.edges(),
        enrollments: sources.enrollments(),
        registrations: sources.registrations(),
        certificates: ctx.dps.listCaCertificates(),
    }
}

/** NDJSON: `{"event":"hub.telemetry","message":{...}}` or `{"event":NAME,"text":...,"deviceId"?}`, until the page goes. */
function stream(res: http.ServerResponse, ctx: DashboardContext): void {
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": "application/x-ndjson" })
    const send = (line: object) => {
        if (res.writableLength > STREAM_MAX_BUFFERED) return res.destroy()
        res.write(JSON.stringify(line) + "\n")
    }
    send({ event: "ready" })
    const stop = ctx.sources.follow((name, data) => {
        if (name === "hub.telemetry") send({ event: name, message: telemetryJson(data as TelemetryMessage) })
        else if (FOLLOWED.has(name)) send({ event: name, text: describeEvent(name, data), deviceId: (data as { deviceId?: string }).deviceId })
    })
    res.on("close", stop)
    ctx.answered(200)
}
