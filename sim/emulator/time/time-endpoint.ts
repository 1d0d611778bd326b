// The clock a device without one reads: any GET or HEAD over HTTPS answers 200 with a
// `Date` header, as the real DPS hosts do on 443.
import * as https from "https"
import { closeServer, listen, reportHttpsErrors, serverTlsOptions, TlsListener, TlsMaterial, trackSockets } from "../transport/tls-listener"

export async function startTimeEndpoint(
    material: TlsMaterial,
    host: string,
    port: number,
    onRequest: (remote: string, method: string) => void,
    onError: (remote: string, reason: string) => void
): Promise<TlsListener> {
    const server = https.createServer(serverTlsOptions(material), (req, res) => {
        const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`
        onRequest(remote, req.method ?? "?")
        const ok = req.method === "GET" || req.method === "HEAD"
        const body = ok ? "" : "method not allowed\n"
        // Node adds the Date header (IMF-fixdate) to every response.
        res.writeHead(ok ? 200 : 405, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) })
        res.end(body)
        req.resume()
    })
    const sockets = trackSockets(server)
    server.requestTimeout = 10_000
    server.headersTimeout = 10_000
    reportHttpsErrors(server, onError)
    const actual = await listen(server, host, port)
    return { port: actual, close: () => closeServer(server, sockets) }
}
