// DPS over HTTPS (the device REST API: Runtime Registration - Register Device, Operation Status
// Lookup, Device Registration Status Lookup), on the same registrar and the same authentication as
// the MQTT face: a SAS token in `Authorization`, or the TLS client certificate. Every answer carries
// `Date` (Node adds it), as Azure's do: a device without a clock reads the time from `HEAD /` here.
import * as http from "http"
import * as https from "https"
import { EmulatorConfig } from "../config"
import { DpsAuthenticator } from "../auth/authenticators"
import { dpsErrorBody } from "./dps-protocol"
import { DpsRegistrar, DpsReply, DpsSession } from "./dps-registrar"
import { reportDpsReply } from "./dps-face"
import { Emit } from "../events"
import { DurableBarrier } from "../transport/mqtt-connection"
import { closeServer, deviceTlsOptions, listen, reportHttpsErrors, tlsPeerChain, TlsListener, TlsMaterial, trackSockets } from "../transport/tls-listener"
import type { TLSSocket } from "tls"

/** A register body is small JSON; the MQTT face's packets stop at 256 KB, the REST face's bodies at 64 KB. */
const MAX_BODY_BYTES = 64 * 1024

/** `/{idScope}/registrations/{id}/register`, `.../operations/{operationId}`, or the registration itself. */
const PATH = /^\/([^/]+)\/registrations\/([^/]+)(?:\/(register)|\/operations\/([^/]+))?$/

type Route = { kind: "register" | "poll" | "status"; method: string; idScope: string; registrationId: string; operationId?: string }

function route(pathname: string): Route | undefined {
    const m = PATH.exec(pathname)
    if (!m) return undefined
    let ids: string[]
    try {
        ids = [m[1], m[2], m[4]].map((s) => (s === undefined ? "" : decodeURIComponent(s)))
    } catch {
        return undefined
    }
    const [idScope, registrationId, operationId] = ids
    if (m[3]) return { kind: "register", method: "PUT", idScope, registrationId }
    if (m[4]) return { kind: "poll", method: "GET", idScope, registrationId, operationId }
    return { kind: "status", method: "POST", idScope, registrationId }
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
        const chunks: Buffer[] = []
        let size = 0
        req.on("data", (c: Buffer) => {
            size += c.length
            if (size <= MAX_BODY_BYTES) chunks.push(c)
        })
        req.on("error", () => resolve(undefined))
        req.on("end", () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)))
    })
}

export async function startDpsRestFace(
    material: TlsMaterial,
    config: EmulatorConfig,
    authenticate: DpsAuthenticator,
    registrar: DpsRegistrar,
    emit: Emit,
    durable?: DurableBarrier,
    now: () => Date = () => new Date()
): Promise<TlsListener> {
    const server = https.createServer(deviceTlsOptions(material), (req, res) => {
        const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
        const url = new URL(req.url ?? "/", "https://dps")
        const at = now()
        // Answers wait for the store's commit, as the MQTT face's do.
        const send = (status: number, body: object | undefined, retryAfter?: number) => {
            const text = body === undefined || req.method === "HEAD" ? "" : JSON.stringify(body)
            const headers: http.OutgoingHttpHeaders = { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) }
            if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter)
            if (body && "errorCode" in body) headers["x-ms-error-code"] = String((body as { errorCode: number }).errorCode)
            const go = () => {
                res.writeHead(status, headers)
                res.end(text)
                emit("dps.request", { remote, method: req.method ?? "?", path: url.pathname, status })
            }
            const barrier = durable?.()
            if (barrier) void barrier.then(go)
            else go()
        }
        const fail = (errorCode: number, message: string) => {
            req.resume()
            send(Math.floor(errorCode / 1000), dpsErrorBody(errorCode, message, at))
        }
        const r = route(url.pathname)
        if (!r) return fail(404000, `no DPS resource at ${url.pathname}`)
        if (req.method !== r.method) return fail(405000, `${req.method} is not allowed on ${url.pathname}`)
        const apiVersion = url.searchParams.get("api-version")
        if (!apiVersion) return fail(400004, "the api-version query parameter is required")
        const token = req.headers.authorization
        const auth = authenticate.claim({ idScope: r.idScope, registrationId: r.registrationId, apiVersion, token }, tlsPeerChain(req.socket as TLSSocket), at)
        if (!auth.ok) {
            emit("dps.refused", { remote, clientId: r.registrationId, answer: "401", reason: auth.reason })
            return fail(401002, "Unauthorized")
        }
        const session: DpsSession = { registrationId: auth.registrationId, enrollment: auth.enrollment, credential: auth.credential }
        const answer = (reply: DpsReply) => {
            reportDpsReply(emit, session.registrationId, reply)
            send(reply.status, reply.body, reply.retryAfter)
        }
        if (r.kind === "poll") {
            req.resume()
            return answer(registrar.poll(session, r.operationId, at))
        }
        if (r.kind === "status") {
            req.resume()
            const s = registrar.status(session, at)
            return send(s.status, s.body)
        }
        void readBody(req).then((body) => {
            if (!body) return fail(413000, `request body over ${MAX_BODY_BYTES} bytes`)
            const reply = registrar.register(session, body, now())
            const payload = reply.outcome.kind === "assigning" ? reply.outcome.record.payload : undefined
            emit("dps.register", { registrationId: session.registrationId, rid: "https", payload })
            answer(reply)
        })
    })
    const sockets = trackSockets(server)
    server.requestTimeout = 10_000
    server.headersTimeout = 10_000
    reportHttpsErrors(server, (remote, reason) => emit("connection.error", { face: "dps-https", remote, reason }))
    const port = await listen(server, config.bind, config.ports.https)
    return { port, close: () => closeServer(server, sockets) }
}
