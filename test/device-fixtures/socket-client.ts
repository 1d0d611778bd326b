// Connects to PEER_HOST:PEER_PORT over PEER_PROTO (default tls). MODE "echo": sends a line, prints the reply.
// MODE "drain": asks for a flood and prints how many bytes arrived before the peer closed.
import { connect, SocketProto } from "@devicescript/net"
import { readSetting } from "@devicescript/settings"

const host = await readSetting<string>("PEER_HOST")
const port = await readSetting<number>("PEER_PORT")
const proto = await readSetting<SocketProto>("PEER_PROTO", "tls")
const mode = await readSetting<string>("MODE", "echo")
try {
    const sock = await connect({ host, port, proto, timeout: 10000 })
    if (mode === "echo") {
        await sock.send("ping from device\n")
        console.log(`echo: ${await sock.readLine()}`)
    } else {
        await sock.send("flood\n")
        let total = 0
        for (;;) {
            const chunk = await sock.recv()
            if (chunk === null) break
            total += chunk.length
        }
        console.log(`drained ${total} bytes`)
    }
    await sock.close()
} catch (e) {
    console.log(`socket error: ${(e as Error).message}`)
}
