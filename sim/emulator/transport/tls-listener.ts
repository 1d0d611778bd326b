// A TLS 1.2+ listener on a loopback address that survives whatever clients send:
// handshake timeout, every socket with an error handler, clean shutdown of open sockets.
import * as https from "https"
import * as tls from "tls"
import * as net from "net"
import { X509Certificate } from "crypto"

export interface TlsMaterial {
    cert: string
    key: string
}

export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Connections of one device listener not yet authenticated (in the TLS handshake or before their
 * CONNECT was accepted): each costs a handshake and buffers, so beyond this new ones are closed at once.
 */
export const MAX_UNAUTHENTICATED_CONNECTIONS = 256

export interface TlsListener {
    port: number
    close(): Promise<void>
}

export function serverTlsOptions(m: TlsMaterial): tls.TlsOptions {
    return { cert: m.cert, key: m.key, minVersion: "TLSv1.2", handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }
}

/**
 * The device listeners (MQTT: DPS and hubs; IoT Edge gateways) ask for a client certificate but admit
 * clients without one, exactly as Azure does: SAS devices send none. A presented chain is not judged
 * here: DPS and the hubs check it against enrollments and identities at CONNECT and refuse there with
 * CONNACK 5 (TLS still proves the client holds the leaf's private key). This is the only place the
 * server accepts an unverified peer chain; clients always verify the server.
 */
export function deviceTlsOptions(m: TlsMaterial): tls.TlsOptions {
    return { ...serverTlsOptions(m), requestCert: true, rejectUnauthorized: false }
}

// More than any device chain; bounds what one peer makes us parse.
const MAX_PEER_CHAIN = 16

/** The client's certificates as it sent them, leaf first (empty without one). */
export function tlsPeerChain(sock: tls.TLSSocket): X509Certificate[] {
    const chain: X509Certificate[] = []
    let c: tls.DetailedPeerCertificate | undefined = sock.getPeerCertificate(true)
    while (c?.raw && chain.length < MAX_PEER_CHAIN) {
        try {
            chain.push(new X509Certificate(c.raw))
        } catch {
            // Never crash on a peer's bytes: the chain ends here and CONNECT judges what there is.
            break
        }
        // Node links a self-signed certificate to itself.
        if (c.issuerCertificate === c) break
        c = c.issuerCertificate
    }
    return chain
}

/** Closes the server and every socket it accepted; resolves when all are gone. */
export function closeServer(server: net.Server, sockets: Map<string, net.Socket>): Promise<void> {
    return new Promise((resolve) => {
        server.close(() => resolve())
        for (const s of sockets.values()) s.destroy()
    })
}

export function listen(server: net.Server, host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject)
        server.listen(port, host, () => {
            server.off("error", reject)
            resolve((server.address() as net.AddressInfo).port)
        })
    })
}

const endpoint = (s: net.Socket) => `${s.remoteAddress}:${s.remotePort}`

/** Tracks raw sockets by remote endpoint (so stop() can end them) and gives each one an error handler. */
export function trackSockets(server: net.Server): Map<string, net.Socket> {
    const sockets = new Map<string, net.Socket>()
    server.on("connection", (s: net.Socket) => {
        const key = endpoint(s)
        sockets.set(key, s)
        // Answers are small writes in a row (PUBACK, then the response): no Nagle delay between them.
        s.setNoDelay(true)
        s.on("error", () => {}) // reported by the TLS layer or the face
        s.on("close", () => sockets.delete(key))
    })
    return sockets
}

/**
 * A listener for devices (optional client certificates, see deviceTlsOptions). `onSecure` also gets the
 * TCP socket under the TLS one, whose counters are the bytes on the wire, and `authenticated`, to call
 * once the client is admitted: until then it counts towards `maxUnauthenticated`.
 */
export async function startTlsListener(
    material: TlsMaterial,
    host: string,
    port: number,
    onSecure: (sock: tls.TLSSocket, wire: net.Socket | undefined, authenticated: () => void) => void,
    onTlsError: (remote: string, reason: string) => void,
    maxUnauthenticated = MAX_UNAUTHENTICATED_CONNECTIONS
): Promise<TlsListener> {
    const server = tls.createServer(deviceTlsOptions(material))
    const sockets = trackSockets(server)
    const unauthenticated = new Set<net.Socket>()
    server.on("connection", (s: net.Socket) => {
        if (unauthenticated.size >= maxUnauthenticated) {
            onTlsError(endpoint(s), `${maxUnauthenticated} connections are already waiting to authenticate`)
            return void s.destroy()
        }
        unauthenticated.add(s)
        s.on("close", () => unauthenticated.delete(s))
    })
    server.on("secureConnection", (sock: tls.TLSSocket) => {
        const wire = sockets.get(endpoint(sock))
        onSecure(sock, wire, () => void (wire && unauthenticated.delete(wire)))
    })
    server.on("tlsClientError", (err, sock) => {
        onTlsError(`${sock.remoteAddress}:${sock.remotePort}`, `TLS handshake failed: ${err.message}`)
        sock.destroy()
    })
    server.on("error", (err) => onTlsError("listener", err.message))
    const actual = await listen(server, host, port)
    return { port: actual, close: () => closeServer(server, sockets) }
}

/** A bad handshake or request closes that socket and is reported; the server keeps serving. */
export function reportHttpsErrors(server: https.Server, onError: (remote: string, reason: string) => void): void {
    server.on("tlsClientError", (err, sock) => {
        onError(`${sock.remoteAddress}:${sock.remotePort}`, `TLS handshake failed: ${err.message}`)
        sock.destroy()
    })
    server.on("clientError", (err, sock) => {
        onError("client", `bad HTTP request: ${err.message}`)
        sock.destroy()
    })
    server.on("error", (err) => onError("listener", err.message))
}
