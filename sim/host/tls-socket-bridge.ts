// The VM's one socket, as the image's TLS stack: trust anchors, SNI, hostname verification and client
// identity come from the image; plaintext is refused. Events wait in a queue and go to the VM one per VM
// step, inbound data in board-sized chunks, so a flood cannot pile up in the VM's 64 KB heap.
import * as net from "net"
import * as tls from "tls"
import { describeSocketError } from "./socket-errors"

/** Event types of `_jd_em_tcpsock_on_event`. */
const SOCK_EV_OPEN = 1
const SOCK_EV_CLOSE = 2
const SOCK_EV_ERROR = 3
const SOCK_EV_MESSAGE = 4
/** Returned to the VM when it writes or closes without a socket (the stock host's value). */
const SOCK_ERR_NO_SOCKET = -10

const MAX_INBOUND_CHUNK = 2048
/** Inbound bytes waiting for the VM beyond which the peer is paused (TCP back-pressure). */
const INBOUND_HIGH_WATER = 16 * 1024

export interface TlsIdentity {
    trustAnchors: string[]
    clientIdentity?: { cert: string; key: string }
}

export interface SocketActivity {
    event: "open" | "close" | "error"
    host: string
    port: number
    error?: string
}

export type VmSocketEventSink = (type: number, arg?: string | Uint8Array) => void

interface QueuedEvent {
    type: number
    arg?: string | Uint8Array
}

export class TlsSocketBridge {
    /** TLS application data the firmware wrote and received. */
    readonly wire = { bytesOut: 0, bytesIn: 0 }
    private sock: tls.TLSSocket | undefined
    private queue: QueuedEvent[] = []
    private queuedBytes = 0

    constructor(
        private readonly identity: TlsIdentity,
        private readonly toVm: VmSocketEventSink,
        private readonly onActivity: (a: SocketActivity) => void
    ) {}

    /** `port` < 0 asks for TLS on -port; the VM has one socket, so this drops any previous one silently. */
    open(host: string, port: number): number {
        this.shutdown()
        if (port >= 0) {
            this.fail(host, port, `tcp://${host}:${port}: plaintext sockets are disabled in this image`)
            return 0
        }
        port = -port
        const name = `tls://${host}:${port}`
        let sock: tls.TLSSocket
        try {
            sock = tls.connect({
                host,
                port,
                servername: net.isIP(host) ? undefined : host,
                ca: this.identity.trustAnchors,
                cert: this.identity.clientIdentity?.cert,
                key: this.identity.clientIdentity?.key,
                minVersion: "TLSv1.2",
            })
        } catch (e) {
            // A malformed certificate or key in the image.
            this.fail(host, port, describeSocketError(name, e as Error))
            return 0
        }
        this.sock = sock
        const current = () => this.sock === sock
        sock.once("secureConnect", () => {
            if (!current()) return
            this.push({ type: SOCK_EV_OPEN })
            this.onActivity({ event: "open", host, port })
        })
        sock.on("data", (data: Buffer) => {
            if (!current()) return
            this.wire.bytesIn += data.length
            for (let i = 0; i < data.length; i += MAX_INBOUND_CHUNK) {
                this.push({ type: SOCK_EV_MESSAGE, arg: data.subarray(i, i + MAX_INBOUND_CHUNK) })
            }
            if (this.queuedBytes > INBOUND_HIGH_WATER) sock.pause()
        })
        sock.on("error", (err) => {
            if (!current()) return
            this.sock = undefined
            sock.destroy()
            this.fail(host, port, describeSocketError(name, err))
        })
        sock.on("close", () => {
            if (!current()) return
            this.sock = undefined
            this.push({ type: SOCK_EV_CLOSE })
            this.onActivity({ event: "close", host, port })
        })
        return 0
    }

    write(data: Uint8Array): number {
        if (!this.sock) return SOCK_ERR_NO_SOCKET
        this.wire.bytesOut += data.length
        this.sock.write(data)
        return 0
    }

    /** Closed by the firmware: a graceful TLS close, and no further events for it. */
    close(): number {
        const sock = this.detach()
        if (!sock) return SOCK_ERR_NO_SOCKET
        sock.end(() => sock.destroy())
        return 0
    }

    /** Drops the socket and anything not yet delivered (the VM stopped or opened another socket). */
    shutdown(): void {
        this.detach()?.destroy()
    }

    private detach(): tls.TLSSocket | undefined {
        const sock = this.sock
        this.sock = undefined
        this.queue = []
        this.queuedBytes = 0
        return sock
    }

    private fail(host: string, port: number, error: string): void {
        this.push({ type: SOCK_EV_ERROR, arg: error })
        this.onActivity({ event: "error", host, port, error })
    }

    private push(ev: QueuedEvent): void {
        this.queue.push(ev)
        if (ev.type === SOCK_EV_MESSAGE) this.queuedBytes += (ev.arg as Uint8Array).length
    }

    /** Called after each VM step: hands the VM the next event, if any; true when it did. */
    deliverNext(): boolean {
        const ev = this.queue.shift()
        if (!ev) return false
        if (ev.type === SOCK_EV_MESSAGE) {
            this.queuedBytes -= (ev.arg as Uint8Array).length
            if (this.queuedBytes <= INBOUND_HIGH_WATER && this.sock?.isPaused()) this.sock.resume()
        }
        this.toVm(ev.type, ev.arg)
        return true
    }
}
