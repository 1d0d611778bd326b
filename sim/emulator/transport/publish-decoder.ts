// PUBLISH, most of what devices send, decoded straight from a whole frame (mqtt-framer.ts): the
// generic parser re-buffers every frame, re-reads its header and logs through `debug` on each
// field. Same checks and error texts as mqtt-packet 9 for MQTT 3.1.1 (parser.js _parseHeader,
// _parsePublish); every other packet type still goes through mqtt-packet.
import type { IPublishPacket } from "mqtt-packet"
import { readFixedHeader } from "./mqtt-framer"

export const PUBLISH_TYPE = 3

/** A whole PUBLISH frame as mqtt-packet would emit it, or the error it would raise. */
export function decodePublish(frame: Buffer): IPublishPacket | { error: string } {
    const h = readFixedHeader(frame)
    if (h === null || h === "malformed") return { error: "Invalid length" }
    const flags = frame[0]
    const qos = (flags >> 1) & 3
    if (qos > 2) return { error: "Packet must not have both QoS bits set to 1" }
    let pos = h.headerLen
    if (pos + 2 > frame.length) return { error: "Cannot parse topic" }
    const topicLen = frame.readUInt16BE(pos)
    pos += 2
    if (pos + topicLen > frame.length) return { error: "Cannot parse topic" }
    const topic = frame.toString("utf8", pos, pos + topicLen)
    pos += topicLen
    const packet: IPublishPacket = {
        cmd: "publish",
        retain: (flags & 1) !== 0,
        qos: qos as 0 | 1 | 2,
        dup: (flags & 8) !== 0,
        length: h.remaining,
        topic,
        payload: frame,
    }
    if (qos > 0) {
        if (pos + 2 > frame.length) return { error: "Cannot parse messageId" }
        packet.messageId = frame.readUInt16BE(pos)
        pos += 2
    }
    packet.payload = frame.subarray(pos)
    return packet
}
