// The firmware's VM heap under the worst traffic a hub may legally send: every inbound packet at the size
// limit, the inbox filled while the application is busy, and one more packet trickled in small pieces so the
// frame reader gets it chunk by chunk. The heap is read from the VM's WASM memory after every VM step
// (sim/host/vm-heap.ts); the VM must not panic and the highest heap offset in use must leave a margin.
import * as assert from "assert"
import { GcHeap, findGcHeap, heapUse, limitHeap } from "../../sim/host/vm-heap"
import { CloudPeer, Connection, gen } from "./cloud-peer"
import { bootAgainst, makePeerPki, sleep } from "./hostile-device"

/** The hub session's packet limit (src/hub/hub-session.ts MAX_PACKET). */
const MAX_PACKET = 8192
/** The board's heap less the margin it must keep: the run must complete in a heap cut to this. */
const HEAP_LIMIT = Number(process.env.HEAP_LIMIT ?? 56 * 1024)
const ROUNDS = 3
const TRICKLE_BYTES = 48
const TRICKLE_GAP_MS = 12

/**
 * A PUBLISH of exactly MAX_PACKET bytes: a desired patch padded with a string (one JSON value, any depth limit
 * passes). It sets the interval the device already has, so applying it shows in the log.
 */
function maxDesired(version: number): Buffer {
    const topic = `$iothub/twin/PATCH/properties/desired/?$version=${version}`
    const doc = (pad: number) => JSON.stringify({ $version: version, telemetryInterval: 1, pad: "x".repeat(pad) })
    const packet = (pad: number) => gen({ cmd: "publish", topic, payload: Buffer.from(doc(pad)), qos: 0, dup: false, retain: false })
    let pad = MAX_PACKET - packet(0).length
    while (packet(pad).length > MAX_PACKET) pad--
    const p = packet(pad)
    assert.strictEqual(p.length, MAX_PACKET)
    return p
}

/** A QoS 1 C2D message of exactly MAX_PACKET bytes. */
function maxC2d(c: Connection, id: number): Buffer {
    const topic = `devices/${c.clientId}/messages/devicebound/%24.mid=big${id}`
    const packet = (n: number) => gen({ cmd: "publish", topic, payload: Buffer.alloc(n, 0x61), qos: 1, messageId: id, dup: false, retain: false })
    let n = MAX_PACKET - packet(0).length
    while (packet(n).length > MAX_PACKET) n--
    return packet(n)
}

/** Writes `bytes` in small pieces; the peer's own answers meanwhile wait, or they would land inside the packet. */
async function trickle(peer: CloudPeer, c: Connection, bytes: Buffer): Promise<void> {
    const held: Buffer[] = []
    peer.mutator = (_c, _kind, b) => {
        held.push(b)
        return Buffer.alloc(0)
    }
    for (let off = 0; off < bytes.length && !c.sock.destroyed; off += TRICKLE_BYTES) {
        c.write(bytes.subarray(off, off + TRICKLE_BYTES))
        await sleep(TRICKLE_GAP_MS)
    }
    peer.mutator = undefined
    for (const b of held) c.write(b)
}

describe("firmware VM heap under worst-case hub traffic", function () {
    this.timeout(60000)

    it("stays within 64 KiB with a margin: max-size documents, a full inbox and a trickled packet", async () => {
        const pki = makePeerPki()
        let session: Connection | undefined
        const peer = new CloudPeer({
            cert: pki.server.cert,
            key: pki.server.key,
            script: {
                sessionReady: (c) => {
                    session = c
                },
            },
        })
        const ports = await peer.listen()
        let heap: GcHeap | undefined
        let top = 0
        let kept = 0
        let lastSinceGc = 0
        let heapBytes = 0
        let stepError: Error | undefined
        const d = await bootAgainst(ports, pki, { REG_ID: "heap-budget" }, (mem) => {
            if (stepError) return
            try {
                if (!heap) {
                    heap = findGcHeap(mem)
                    if (!heap) return
                    if (!limitHeap(mem, heap, HEAP_LIMIT)) throw new Error(`cannot limit the heap to ${HEAP_LIMIT} bytes`)
                }
                const u = heapUse(mem, heap)
                heapBytes = u.heapBytes
                top = Math.max(top, u.topBytes)
                // A collection ran during the step: what it kept, less what was allocated after it.
                if (u.sinceGcBytes < lastSinceGc) kept = Math.max(kept, u.usedBytes - u.sinceGcBytes)
                lastSinceGc = u.sinceGcBytes
            } catch (e) {
                stepError = e as Error
            }
        })
        try {
            await d.line(/^hub: telemetry #1 acknowledged/)
            const c = session as Connection
            for (let r = 0; r < ROUNDS; r++) {
                // All at once: the application is still busy with the first while the rest arrive.
                const burst: Buffer[] = []
                for (let i = 0; i < 4; i++) burst.push(maxDesired(100 + r * 10 + i))
                for (let i = 0; i < 4; i++) burst.push(maxC2d(c, r * 10 + i + 1))
                c.write(Buffer.concat(burst))
                await trickle(peer, c, maxDesired(100 + r * 10 + 9))
                await sleep(300)
            }
            const acked = d.count(/^hub: telemetry #\d+ acknowledged/)
            await d.line(new RegExp(`^hub: telemetry #${acked + 1} acknowledged`), 20000)
            assert.deepStrictEqual(d.failures, [], "the VM must not panic")
            // Not a pass by dropping them all: max-size messages of both kinds were taken and handled.
            assert.ok(d.count(/^app: desired version 1\d\d applied \(update\)/) > 0, "no max-size desired patch applied")
            assert.ok(d.count(/^hub: c2d message \$\.mid=big/) > 0, "no max-size C2D message received")
            assert.ok(!stepError, stepError?.message)
            assert.strictEqual(heapBytes, HEAP_LIMIT)
        } catch (e) {
            throw new Error(`${(e as Error).message}\nlast lines:\n  ${d.lines.slice(-12).join("\n  ")}\nfailures: ${d.failures.join("; ")}`)
        } finally {
            console.log(`      VM heap: highest offset in use ${top}, most a collection kept ${kept}, of ${heapBytes} bytes`)
            await d.stop()
            await peer.close()
        }
    })
})
