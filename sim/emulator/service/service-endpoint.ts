// The service side over HTTPS, so a running emulator can be driven from another terminal
// (service-cli.ts) the way `az iot hub` drives a hub and `az iot dps certificate` manages DPS's
// CAs. TLS with the emulator's certificate, loopback only, every request signed with the service
// policy's key (a SAS token for the hub host name, skn=iothubowner). JSON in and out; errors as
// {errorCode, message}. Under /dashboard it also serves the web dashboard (dashboard/), whose
// page needs no signature but whose data does.
import * as http from "http"
import * as https from "https"
import { EmulatorConfig, SERVICE_POLICY } from "../config"
import { CaStoreError, DpsService } from "./dps-service"
import { DASHBOARD_PATH, serveDashboard } from "./dashboard/dashboard-routes"
import type { DashboardSources } from "./dashboard/dashboard-sources"
import { Emit } from "../events"
import { TelemetryMessage } from "../state/hub-registry"
import { DurableBarrier } from "../transport/mqtt-connection"
import { HubService, HubServiceError } from "./service"
import { restAuthorize } from "./azure-rest"
import { hubRestApi } from "./hub-rest/hub-rest"
import { DpsRest, dpsRestApi } from "./dps-rest/dps-rest"
import { serveAzureRest } from "./rest-dispatch"
import { MAX_BODY_BYTES, readBodyText } from "./request-body"
import { closeServer, listen, reportHttpsErrors, serverTlsOptions, TlsListener, TlsMaterial, trackSockets } from "../transport/tls-listener"

/** The service objects the endpoint drives: the hubs' and DPS's; `durable`: the store's barrier, which every answer waits for. */
export interface ServiceSides {
    hub: HubService
    dps: DpsService
    /** The hubs' host names; new identities go to the first unless the request names another. */
    hubs: string[]
    durable?: DurableBarrier
    /** What the web dashboard (under /dashboard) reads besides; without it there is no dashboard. */
    dashboard?: DashboardSources
    /** DPS's service REST API (enrollments, registrations). */
    dpsRest?: DpsRest
}

/** The JSON line `monitor-events` streams for one telemetry message. */
export function telemetryJson(m: TelemetryMessage) {
    const { body, ...rest } = m
    return { ...rest, body: body.toString("utf8") }
}

/** Checks `Authorization: SharedAccessSignature sr={hub}&sig=...&se=...&skn=iothubowner`; a reason when refused. */
export function serviceAuthorize(header: string | undefined, config: EmulatorConfig, nowSec: number): string | undefined {
    const hubs = { resources: config.hubs.map((h) => h.hostName), skn: SERVICE_POLICY, what: "hub" }
    return restAuthorize(header, hubs, config.service, nowSec, config.sasSkewSec)
}

class HttpError extends Error {
    constructor(
        readonly errorCode: number,
        message: string
    ) {
        super(message)
    }
}

async function readJson(req: http.IncomingMessage): Promise<any> {
    const text = await readBodyText(req, () => new HttpError(413000, `request body over ${MAX_BODY_BYTES} bytes`))
    if (!text.trim()) return {}
    let json: unknown
    try {
        json = JSON.parse(text)
    } catch {
        throw new HttpError(400004, "request body is not JSON")
    }
    // Every route takes an object: `null`, a number or an array is bad input, not a crash.
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new HttpError(400004, "request body must be a JSON object")
    return json
}

type Route = (service: ServiceSides, ids: string[], body: () => Promise<any>) => Promise<{ status: number; json?: unknown }>

/** The `certificate` field of a body: PEM or base64 DER. */
async function certificateField(body: () => Promise<any>, shape: string): Promise<any> {
    const b = await body()
    if (typeof b.certificate !== "string") throw new HttpError(400004, `body must be ${shape}`)
    return b
}

// [method, path pattern (one capture per id), handler]
const ROUTES: [string, RegExp, Route][] = [
    ["GET", /^\/devices$/, async (s) => ({ status: 200, json: s.hub.listDevices() })],
    ["GET", /^\/devices\/([^/]+)$/, async (s, [id]) => ({ status: 200, json: s.hub.getDevice(id) })],
    [
        "PATCH",
        /^\/devices\/([^/]+)$/,
        async (s, [id], body) => {
            const { status } = await body()
            if (status !== "enabled" && status !== "disabled") throw new HttpError(400004, 'body must be {"status":"enabled"|"disabled"}')
            return { status: 200, json: s.hub.setDeviceStatus(id, status) }
        },
    ],
    [
        "PUT",
        /^\/devices\/([^/]+)\/parent$/,
        async (s, [id], body) => {
            const { parentId } = await body()
            if (typeof parentId !== "string") throw new HttpError(400004, 'body must be {"parentId":"<edge device id>"}')
            return { status: 200, json: s.hub.setParent(id, parentId) }
        },
    ],
    [
        "PUT",
        /^\/edges\/([^/]+)\/uplink$/,
        async (s, [id], body) => {
            const { up } = await body()
            if (typeof up !== "boolean") throw new HttpError(400004, 'body must be {"up":true|false}')
            return { status: 200, json: s.hub.setEdgeUplink(id, up) }
        },
    ],
    [
        "DELETE",
        /^\/devices\/([^/]+)$/,
        async (s, [id]) => {
            s.hub.deleteDevice(id)
            return { status: 204 }
        },
    ],
    [
        "PUT",
        /^\/devices\/([^/]+)$/,
        async (s, [id], body) => {
            // IoT Hub's device identity body: {"authentication": {"symmetricKey": {"primaryKey", "secondaryKey"}}}; "hub" picks the hub.
            const b = (await body()) ?? {}
            const keys = b.authentication?.symmetricKey ?? {}
            const hub = b.hub ?? s.hubs[0]
            if (!s.hubs.includes(hub)) throw new HttpError(400004, `no hub ${hub} in this emulator`)
            return { status: 200, json: s.hub.createDevice(id, hub, keys) }
        },
    ],
    ["GET", /^\/devices\/([^/]+)\/connection-string$/, async (s, [id]) => ({ status: 200, json: s.hub.connectionString(id) })],
    ["GET", /^\/twins\/([^/]+)$/, async (s, [id]) => ({ status: 200, json: s.hub.getTwin(id) })],
    [
        "PATCH",
        /^\/twins\/([^/]+)$/,
        async (s, [id], body) => {
            const desired = (await body())?.properties?.desired
            if (typeof desired !== "object" || desired === null || Array.isArray(desired))
                throw new HttpError(400004, 'body must be {"properties":{"desired":{...}}}')
            s.hub.updateDesired(id, desired)
            return { status: 200, json: s.hub.getTwin(id) }
        },
    ],
    [
        "POST",
        /^\/devices\/([^/]+)\/messages\/deviceBound$/,
        async (s, [id], body) => {
            const b = await body()
            if (typeof b.data !== "string") throw new HttpError(400004, 'body must be {"data":"...","properties":{...}}')
            const props = b.properties ?? {}
            if (typeof props !== "object" || Object.values(props).some((v) => typeof v !== "string"))
                throw new HttpError(400004, "properties must map names to strings")
            const messageId = s.hub.sendC2d(id, b.data, {
                properties: props,
                messageId: b.messageId,
                correlationId: b.correlationId,
                contentType: b.contentType,
                contentEncoding: b.contentEncoding,
            })
            return { status: 201, json: { messageId } }
        },
    ],
    [
        "POST",
        /^\/twins\/([^/]+)\/methods$/,
        async (s, [id], body) => {
            const b = await body()
            if (typeof b.methodName !== "string") throw new HttpError(400004, 'body must be {"methodName":"...","payload":...,"responseTimeoutInSeconds":30}')
            return { status: 200, json: await s.hub.invokeMethod(id, b.methodName, b.payload ?? null, b.responseTimeoutInSeconds ?? 30) }
        },
    ],
    ["GET", /^\/certificates$/, async (s) => ({ status: 200, json: s.dps.listCaCertificates() })],
    ["GET", /^\/certificates\/([^/]+)$/, async (s, [name]) => ({ status: 200, json: s.dps.getCaCertificate(name) })],
    [
        "PUT",
        /^\/certificates\/([^/]+)$/,
        async (s, [name], body) => {
            const b = await certificateField(body, '{"certificate":"<PEM or base64 DER>","isVerified":false}')
            if (b.isVerified !== undefined && typeof b.isVerified !== "boolean") throw new HttpError(400004, "isVerified must be true or false")
            return { status: 200, json: s.dps.uploadCaCertificate(name, b.certificate, { verified: b.isVerified }) }
        },
    ],
    ["POST", /^\/certificates\/([^/]+)\/generateVerificationCode$/, async (s, [name]) => ({ status: 200, json: s.dps.generateVerificationCode(name) })],
    [
        "POST",
        /^\/certificates\/([^/]+)\/verify$/,
        async (s, [name], body) => {
            const b = await certificateField(body, '{"certificate":"<PEM or base64 DER of the verification certificate>"}')
            return { status: 200, json: s.dps.verifyCaCertificate(name, b.certificate) }
        },
    ],
    [
        "DELETE",
        /^\/certificates\/([^/]+)$/,
        async (s, [name]) => {
            s.dps.deleteCaCertificate(name)
            return { status: 204 }
        },
    ],
]

/** IoT Hub's error codes pass through; CA store failures get DPS's shape (400004 bad input or failed proof, 404000 unknown). */
function errorCodeOf(e: Error): number {
    if (e instanceof HubServiceError || e instanceof HttpError) return e.errorCode
    if (e instanceof CaStoreError) return e.status === 404 ? 404000 : 400004
    return 500000
}

export async function startServiceEndpoint(
    material: TlsMaterial,
    config: EmulatorConfig,
    service: ServiceSides,
    emit: Emit,
    now: () => Date = () => new Date()
): Promise<TlsListener> {
    const azureApis = [hubRestApi(service.hub, service.hubs), ...(service.dpsRest ? [dpsRestApi(service.dpsRest)] : [])]
    const server = https.createServer(serverTlsOptions(material), (req, res) => {
        const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
        const url = new URL(req.url ?? "/", "https://emulator")
        // A 2xx means the change is on disk: the answer waits for the store's commit.
        const reply = (status: number, json?: unknown) => {
            const text = json === undefined ? "" : JSON.stringify(json)
            const send = () => {
                res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) })
                res.end(text)
                emit("service.request", { remote, method: req.method ?? "?", path: url.pathname, status })
            }
            const barrier = service.durable?.()
            if (barrier) void barrier.then(send)
            else send()
        }
        // Azure's own service REST APIs (the official SDKs) always name an api-version; the routes below never do.
        if (url.searchParams.has("api-version")) return serveAzureRest(req, res, url, azureApis, config, service.durable, emit, now)
        const authorize = () => serviceAuthorize(req.headers.authorization, config, Math.floor(now().getTime() / 1000))
        if (service.dashboard && DASHBOARD_PATH.test(url.pathname)) {
            const answered = (status: number) => emit("service.request", { remote, method: req.method ?? "?", path: url.pathname, status })
            return serveDashboard(req, res, url.pathname, { ...service, sources: service.dashboard, authorize, answered })
        }
        const refused = authorize()
        if (refused) {
            req.resume()
            return reply(401, { errorCode: 401002, message: `unauthorized: ${refused}` })
        }
        if (req.method === "GET" && url.pathname === "/events") return followEvents(req, res, service.hub, url.searchParams.get("deviceId") ?? undefined)
        const route = ROUTES.find(([m, re]) => m === req.method && re.test(url.pathname))
        if (!route) {
            req.resume()
            return reply(404, { errorCode: 404000, message: `no route ${req.method} ${url.pathname}` })
        }
        let ids: string[]
        try {
            ids = route[1].exec(url.pathname)!.slice(1).map(decodeURIComponent)
        } catch {
            return reply(400, { errorCode: 400004, message: "malformed id in the path" })
        }
        route[2](service, ids, () => readJson(req))
            .then((r) => reply(r.status, r.json))
            .catch((e: Error) => {
                const code = errorCodeOf(e)
                reply(Math.floor(code / 1000), { errorCode: code, message: e.message })
            })
    })
    const sockets = trackSockets(server)
    server.headersTimeout = 10_000
    // Method calls wait up to 300 s and monitor-events streams for as long as the client stays.
    server.requestTimeout = 0
    const onError = (remote: string, reason: string) => emit("connection.error", { face: "service", remote, reason })
    reportHttpsErrors(server, onError)
    const port = await listen(server, config.bind, config.ports.service)
    return { port, close: () => closeServer(server, sockets) }
}

/** Streams telemetry as JSON lines until the client goes away (`az iot hub monitor-events`). */
function followEvents(req: http.IncomingMessage, res: http.ServerResponse, service: HubService, deviceId?: string) {
    res.writeHead(200, { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store" })
    res.flushHeaders()
    const stop = service.monitorEvents((m) => {
        // A reader that stops reading is dropped rather than buffered for without bound.
        if (res.writableLength > 1024 * 1024) return res.destroy()
        res.write(JSON.stringify(telemetryJson(m)) + "\n")
    }, deviceId)
    res.on("close", stop)
    req.resume()
}
