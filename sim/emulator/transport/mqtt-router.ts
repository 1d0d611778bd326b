// One MQTT port serves DPS and the hubs, as Azure's do on 8883: each CONNECT goes to the face
// its user name belongs to. Every connection's close is reported here, routed or not.
import type { IConnectPacket } from "mqtt-packet"
import { Emit } from "../events"
import { ConnectionClosed, MqttConnection } from "./mqtt-connection"

export interface MqttFace {
    readonly name: string
    /** Takes over a connection at its CONNECT: must accept() or refuse() before returning. */
    attach(conn: MqttConnection, connect: IConnectPacket): void
}

export function routeMqttConnection(conn: MqttConnection, pick: (connect: IConnectPacket) => MqttFace, emit: Emit): void {
    let face = "mqtt"
    conn.once("connect", (p: IConnectPacket) => {
        const chosen = pick(p)
        face = chosen.name
        chosen.attach(conn, p)
    })
    conn.on("closed", (c: ConnectionClosed) => {
        if (c.violation) emit("connection.error", { face, remote: conn.remote, clientId: conn.clientId, reason: c.reason })
        const { reason, bytesIn, bytesOut, wireBytesIn, wireBytesOut } = c
        emit("connection.close", { face, remote: conn.remote, clientId: conn.clientId, reason, bytesIn, bytesOut, wireBytesIn, wireBytesOut })
    })
}
