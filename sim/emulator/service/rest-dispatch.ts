// Requests that carry `api-version` are Azure's own service REST APIs, served on the emulator's
// service endpoint next to its management routes: IoT Hub's (hub-rest, signed for a hub with
// skn=iothubowner) and DPS's (dps-rest, signed for the DPS host name as the client addressed it,
// with skn=provisioningserviceowner). Both policies use the emulator's one service key. Answers
// wait for the store like every other answer of the endpoint.
import type * as http from "http"
import { EmulatorConfig } from "../config"
import { Emit } from "../events"
import { DurableBarrier } from "../transport/mqtt-connection"
import { RestAnswer, RestError, RestRoute, restAudience, restAuthorize, restIfMatch, restMatch } from "./azure-rest"
import { MAX_BODY_BYTES, readBodyText } from "./request-body"

/** One of Azure's service APIs: its routes, the token it takes and how it writes a failure. */
export interface RestApi {
    routes: RestRoute[]
    skn: string
    /** The sr values its tokens may name. */
    resources(req: http.IncomingMessage): string[]
    what: string
    error(e: unknown, now: Date): { status: number; json: unknown }
}

/** The host name a request was sent to (its Host header without the port). */
export function requestHostName(req: http.IncomingMessage): string {
    return (req.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1")
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
    const text = await readBodyText(req, () => new RestError(413, "RequestEntityTooLarge", `request body over ${MAX_BODY_BYTES} bytes`))
    if (!text.trim()) return undefined
    try {
        return JSON.parse(text)
    } catch {
        return Symbol.for("not JSON")
    }
}

export function serveAzureRest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    apis: RestApi[],
    config: EmulatorConfig,
    durable: DurableBarrier | undefined,
    emit: Emit,
    now: () => Date
): void {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
    const reply = (a: RestAnswer) => {
        const text = a.json === undefined ? "" : JSON.stringify(a.json)
        const send = () => {
            const headers: http.OutgoingHttpHeaders = { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) }
            if (a.etag) headers.ETag = `"${a.etag}"`
            Object.assign(headers, a.headers)
            res.writeHead(a.status, headers)
            res.end(text)
            emit("service.request", { remote, method: req.method ?? "?", path: url.pathname, status: a.status })
        }
        const barrier = durable?.()
        if (barrier) void barrier.then(send)
        else send()
    }
    const method = req.method ?? "GET"
    let found: ReturnType<typeof restMatch>
    let api: RestApi | undefined
    try {
        for (api of apis) {
            found = restMatch(api.routes, method, url.pathname)
            if (found) break
        }
    } catch (e) {
        req.resume()
        return reply(apis[0].error(e, now()))
    }
    if (!found || !api) {
        req.resume()
        return reply({ status: 404, json: { Message: `ErrorCode:NotFound;no route ${method} ${url.pathname}` } })
    }
    const a = api
    const refused = restAuthorize(
        req.headers.authorization,
        { resources: a.resources(req), skn: a.skn, what: a.what },
        config.service,
        Math.floor(now().getTime() / 1000),
        config.sasSkewSec
    )
    if (refused) {
        req.resume()
        return reply(a.error(new RestError(401, "IotHubUnauthorizedAccess", `unauthorized: ${refused}`), now()))
    }
    const body = async () => {
        const b = await readBody(req)
        if (b === Symbol.for("not JSON")) throw new RestError(400, "ArgumentInvalid", "request body is not JSON")
        return b ?? {}
    }
    const header = (name: string) => {
        const v = req.headers[name]
        return Array.isArray(v) ? v[0] : v
    }
    const audience = restAudience(req.headers.authorization)!
    found.route[2]({ ids: found.ids, query: url.searchParams, ifMatch: restIfMatch(req), audience, header, body }).then(reply, (e) => reply(a.error(e, now())))
}
