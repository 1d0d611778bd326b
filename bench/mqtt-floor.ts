// The floor under the emulator's per-message CPU: a server that does nothing but MQTT over TLS —
// Node's TLS with the emulator's certificate and minimum version, mqtt-packet's parser, CONNACK
// to every CONNECT and PUBACK to every QoS 1 PUBLISH, no authentication, topic, state or events.
// Any MQTT broker in Node pays at least this per message; the emulator's figure over it is what
// IoT Hub's semantics (SAS checks at connect, topic and property parsing, the telemetry kept) cost.
import * as fs from "fs"
import * as net from "net"
import * as tls from "tls"
import mqtt = require("mqtt-packet")

export interface FloorServer {
    port: number
    close(): Promise<void>
}

export async function startMqttFloor(certFile: string, keyFile: string): Promise<FloorServer> {
    const sockets = new Set<net.Socket>()
    const server = tls.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), minVersion: "TLSv1.2" }, (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => socket.destroy())
        const parser = mqtt.parser({ protocolVersion: 4 })
        parser.on("packet", (p) => {
            if (p.cmd === "connect") socket.write(mqtt.generate({ cmd: "connack", returnCode: 0, sessionPresent: false }))
            else if (p.cmd === "publish" && p.qos === 1) socket.write(mqtt.generate({ cmd: "puback", messageId: p.messageId }))
            else if (p.cmd === "pingreq") socket.write(mqtt.generate({ cmd: "pingresp" }))
        })
        parser.on("error", () => socket.destroy())
        socket.on("data", (d) => parser.parse(d))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return {
        port: (server.address() as net.AddressInfo).port,
        close: () =>
            new Promise<void>((resolve) => {
                for (const s of sockets) s.destroy()
                server.close(() => resolve())
            }),
    }
}
