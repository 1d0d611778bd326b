// Jacdac frames between the host and the VM: just enough to address a service of the VM's own device.
// Frame: [crc16 LE][data size][flags][device id, 8 bytes] then packets
// [payload size][service index][command u16 LE][payload padded to 4].

const FRAME_HEADER = 12
const PACKET_HEADER = 4
const FRAME_FLAG_COMMAND = 0x01
const MAX_PACKET_PAYLOAD = 236
const CMD_ANNOUNCE = 0x0000

function align4(n: number): number {
    return (n + 3) & ~3
}

/** The CRC-16/CCITT variant Jacdac uses (initial 0xffff). */
export function jdCrc16(bytes: Uint8Array): number {
    let crc = 0xffff
    for (const byte of bytes) {
        let x = (crc >> 8) ^ byte
        x ^= x >> 4
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xffff
    }
    return crc
}

/** A frame carrying one command packet to `serviceIndex` on device `deviceId` (16 hex digits). */
export function jdBuildCommandFrame(deviceId: string, serviceIndex: number, command: number, payload: Uint8Array): Buffer {
    if (payload.length > MAX_PACKET_PAYLOAD) throw new RangeError(`jacdac payload of ${payload.length} bytes exceeds ${MAX_PACKET_PAYLOAD}`)
    const size = align4(PACKET_HEADER + payload.length)
    const frame = Buffer.alloc(FRAME_HEADER + size)
    frame[2] = size
    frame[3] = FRAME_FLAG_COMMAND
    Buffer.from(deviceId, "hex").copy(frame, 4)
    frame[12] = payload.length
    frame[13] = serviceIndex
    frame.writeUInt16LE(command, 14)
    frame.set(payload, 16)
    frame.writeUInt16LE(jdCrc16(frame.subarray(2, FRAME_HEADER + size)), 0)
    return frame
}

/**
 * The index of `serviceClass` among the services a device announces, if `frame` carries that device's
 * announce report (service index 0, command 0: u32 flags, then one u32 service class per service).
 */
export function jdFindAnnouncedService(frame: Uint8Array, serviceClass: number): number | undefined {
    if (frame.length < FRAME_HEADER || frame[3] & FRAME_FLAG_COMMAND) return undefined
    const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
    const end = Math.min(buf.length, FRAME_HEADER + buf[2])
    for (let off = FRAME_HEADER; off + PACKET_HEADER <= end; off += align4(PACKET_HEADER + buf[off])) {
        const payloadEnd = Math.min(end, off + PACKET_HEADER + buf[off])
        if (buf[off + 1] !== 0 || buf.readUInt16LE(off + 2) !== CMD_ANNOUNCE) continue
        for (let p = off + PACKET_HEADER + 4, index = 1; p + 4 <= payloadEnd; p += 4, index++) {
            if (buf.readUInt32LE(p) === serviceClass) return index
        }
    }
    return undefined
}
