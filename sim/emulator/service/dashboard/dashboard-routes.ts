// The dashboard's HTTP side, under /dashboard on the service endpoint. The page and its assets are
// served without credentials (they hold no data); the JSON it needs beyond the endpoint's own routes
// (overview, retained telemetry, the live stream) answers only requests signed like every other one,
// with a SAS token of the service policy, which the page derives in the browser from the pasted
// connection string. The live stream is NDJSON over a streamed fetch: EventSource cannot send headers.
import * as fs from "fs"
import * as http from "http"
import * as path from "path"
import { describeEvent, EmulatorEventName } from "../../events"
import { HubService, HubServiceError } from "../service"
import { DpsService } from "../dps-service"
import { TelemetryMessage } from "../../state/hub-registry"
import { telemetryJson } from "../service-endpoint"
import { DashboardSources } from "./dashboard-sources"

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
    sources: DashboardSources
    /** Why the request's credentials are refused, or undefined when they are the service policy's. */
    authorize: () => string | undefined
    /** Reports the answer's status (the endpoint's `service.request` event). */
    answered: (status: number) => void
}

export function serveDashboard(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, ctx: DashboardContext): void {
    const reply = (status: number, json: unknown) => {
        const text = JSON.stringify(json)
        res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) })
        res.end(text)
        ctx.answered(status)
    }
    req.resume()
    if (req.method !== "GET") return reply(405, { errorCode: 405000, message: `${req.method} is not served under /dashboard` })
    const asset = ASSETS[pathname]
    if (asset) {
        const body = fs.readFileSync(path.join(STATIC_DIR, asset[0]))
        res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": asset[1], "Content-Length": body.length })
        res.end(body)
        return ctx.answered(200)
    }
    if (!pathname.startsWith("/dashboard/api/")) return reply(404, { errorCode: 404000, message: `no page ${pathname}` })
    const refused = ctx.authorize()
    if (refused) return reply(401, { errorCode: 401002, message: `unauthorized: ${refused}` })
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
