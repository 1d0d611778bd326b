// The device's socket is the image's TLS: its trust anchors only, SNI and hostname verification,
// its client identity, no plaintext, and inbound floods paced for a 64 KB VM heap.
import * as assert from "assert"
import * as fs from "fs"
import * as net from "net"
import * as tls from "tls"
import { SimulatedDevice } from "../../sim/host/device"
import { FirmwareImage, loadImage } from "../../sim/host/image"
import { SocketActivity } from "../../sim/host/tls-socket-bridge"
import { buildFixture } from "./fixtures"
import { Issued, issue, makeCa, makeWorkDir } from "./throwaway-pki"

const FLOOD_BYTES = 256 * 1024
const RESULT = /^(echo: .*|drained \d+ bytes|socket error: .*)$/

interface PeerLog {
    tcpConnections: number
    sni: (string | false)[]
    clientCommonNames: string[]
}

/** Echoes lines; answers "flood" with FLOOD_BYTES bytes, then closes. */
async function startPeer(options: tls.TlsOptions): Promise<{ port: number; log: PeerLog; close: () => void }> {
    const log: PeerLog = { tcpConnections: 0, sni: [], clientCommonNames: [] }
    const server = tls.createServer(options, (sock) => {
        log.sni.push(sock.servername ?? false)
        const peer = sock.getPeerX509Certificate()
        if (peer) log.clientCommonNames.push(peer.subject.replace(/^CN=/, ""))
        sock.on("error", () => {})
        sock.on("data", (d) => {
            if (d.toString().startsWith("flood")) sock.end(Buffer.alloc(FLOOD_BYTES, 0x41))
            else sock.write(d)
        })
    })
    server.on("connection", () => log.tcpConnections++)
    server.on("tlsClientError", () => {})
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { port: (server.address() as net.AddressInfo).port, log, close: () => server.close() }
}

describe("device TLS socket", function () {
    this.timeout(60000)
    let bytecodeFile: string
    let bytecode: Buffer
    let dir: string
    let trustedCa: Issued
    let otherCa: Issued
    let serverCert: Issued
    let misnamedCert: Issued
    let deviceCert: Issued
    const cleanup: (() => unknown)[] = []

    before(async () => {
        bytecodeFile = await buildFixture("socket-client")
        bytecode = fs.readFileSync(bytecodeFile)
        dir = makeWorkDir()
        trustedCa = makeCa(dir, "trusted-ca")
        otherCa = makeCa(dir, "other-ca")
        serverCert = issue(dir, trustedCa, "server", ["DNS:localhost", "IP:127.0.0.1"])
        misnamedCert = issue(dir, trustedCa, "misnamed", ["DNS:elsewhere.example"])
        deviceCert = issue(dir, otherCa, "device-001", ["DNS:device-001"])
    })
    afterEach(async () => {
        for (const c of cleanup.splice(0)) await c()
    })
    after(() => fs.rmSync(dir, { recursive: true, force: true }))

    async function peer(options: tls.TlsOptions = { cert: serverCert.cert, key: serverCert.key }) {
        const p = await startPeer(options)
        cleanup.push(p.close)
        return p
    }

    /** Boots the socket-client fixture and returns its one result line. */
    async function runClient(settings: FirmwareImage["settings"], image: Partial<FirmwareImage> = {}) {
        const device = new SimulatedDevice({ bytecode, settings, trustAnchors: [trustedCa.cert], ...image })
        cleanup.push(() => device.stop())
        const activity: SocketActivity[] = []
        device.on("socket", (a) => activity.push(a))
        await device.boot()
        const line = (await device.waitForConsole(RESULT, 20000))[0]
        return { line, device, activity }
    }

    it("talks to a server the image trusts, sending the host name as SNI", async () => {
        const p = await peer()
        const { line, device, activity } = await runClient({ PEER_HOST: "localhost", PEER_PORT: p.port })
        assert.strictEqual(line, "echo: ping from device")
        assert.deepStrictEqual(p.log.sni, ["localhost"])
        assert.deepStrictEqual(device.wire, { bytesOut: 17, bytesIn: 17 })
        assert.deepStrictEqual(activity[0], { event: "open", host: "localhost", port: p.port })
    })

    it("connects to an IP literal without SNI, verified against the IP SAN", async () => {
        const p = await peer()
        const { line } = await runClient({ PEER_HOST: "127.0.0.1", PEER_PORT: p.port })
        assert.strictEqual(line, "echo: ping from device")
        assert.deepStrictEqual(p.log.sni, [false])
    })

    it("refuses a server whose CA is not among the image's trust anchors", async () => {
        const p = await peer()
        const { line, activity } = await runClient({ PEER_HOST: "localhost", PEER_PORT: p.port }, { trustAnchors: [otherCa.cert] })
        assert.match(line, /^socket error: socket tls:\/\/localhost:\d+: tls:\/\/localhost:\d+: certificate not trusted by the image \([A-Z_]+\)$/)
        assert.strictEqual(activity[0].event, "error")
    })

    it("refuses a certificate that does not name the host", async () => {
        const p = await peer({ cert: misnamedCert.cert, key: misnamedCert.key })
        const { line } = await runClient({ PEER_HOST: "localhost", PEER_PORT: p.port })
        assert.match(line, /: hostname mismatch \(ERR_TLS_CERT_ALTNAME_INVALID\)$/)
    })

    it("refuses plaintext without touching the network", async () => {
        const p = await peer()
        const { line } = await runClient({ PEER_HOST: "localhost", PEER_PORT: p.port, PEER_PROTO: "tcp" })
        assert.match(line, /tcp:\/\/localhost:\d+: plaintext sockets are disabled in this image$/)
        assert.strictEqual(p.log.tcpConnections, 0)
    })

    it("presents the image's client certificate when the server asks for one", async () => {
        const p = await peer({ cert: serverCert.cert, key: serverCert.key, requestCert: true, rejectUnauthorized: true, ca: [otherCa.cert] })
        const image = loadImage({
            bytecodeFile,
            trustAnchorFiles: [trustedCa.certFile],
            clientIdentity: { certFile: deviceCert.certFile, keyFile: deviceCert.keyFile },
            settings: { PEER_HOST: "localhost", PEER_PORT: p.port },
        })
        const { line } = await runClient(image.settings, image)
        assert.strictEqual(line, "echo: ping from device")
        assert.deepStrictEqual(p.log.clientCommonNames, ["device-001"])
    })

    it("refuses to load an image whose client key does not match its certificate", () => {
        assert.throws(
            () =>
                loadImage({
                    bytecodeFile,
                    trustAnchorFiles: [trustedCa.certFile],
                    clientIdentity: { certFile: deviceCert.certFile, keyFile: serverCert.keyFile },
                }),
            /server\.key is not the key of .*device-001\.pem/
        )
    })

    it("delivers a flood whole, in pieces the VM's heap can take", async () => {
        const p = await peer()
        const { line, device } = await runClient({ PEER_HOST: "localhost", PEER_PORT: p.port, MODE: "drain" })
        assert.strictEqual(line, `drained ${FLOOD_BYTES} bytes`)
        assert.strictEqual(device.wire.bytesIn, FLOOD_BYTES)
    })

    it("reports a refused connection and a peer that is not TLS, and keeps running", async () => {
        const closed = await peer()
        closed.close()
        const refused = await runClient({ PEER_HOST: "localhost", PEER_PORT: closed.port })
        assert.match(refused.line, /: connection refused \(ECONNREFUSED\)$/)

        const garbage = net.createServer((s) => {
            s.on("error", () => {})
            s.end("HTTP/1.0 400 not tls\r\n\r\n")
        })
        await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve))
        cleanup.push(() => garbage.close())
        const { line } = await runClient({ PEER_HOST: "localhost", PEER_PORT: (garbage.address() as net.AddressInfo).port })
        assert.match(line, /: TLS handshake failed: .* \([A-Z_]+\)$/)
    })
})
