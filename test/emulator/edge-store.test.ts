// The edge gateway's store and forward on its own: what takeAll() delivers leaves the queue and
// the durable store, so a second outage forwards only its own messages (no duplicates, none
// brought back by a restart).
import * as assert from "assert"
import * as path from "path"
import { MessageStore, UpstreamMessage } from "../../sim/emulator/edge/edge-store"
import { StateStore } from "../../sim/emulator/state/store"
import { tempDir } from "../support/emulator"

const PREFIX = "edge-queue/gw-1/"
const T0 = Date.parse("2026-01-01T00:00:00Z")

function message(n: number, atMs = T0): UpstreamMessage {
    return {
        deviceId: "leaf-1",
        hub: "localhost",
        properties: {},
        systemProperties: {},
        body: Buffer.from(`m${n}`),
        enqueuedTimeUtc: new Date(atMs).toISOString(),
    }
}
const bodies = (ms: UpstreamMessage[]) => ms.map((m) => m.body.toString())

describe("edge message store", () => {
    let db: StateStore
    beforeEach(async () => {
        db = await StateStore.open(path.join(tempDir("edge-store"), "db"))
    })
    afterEach(() => db.close())

    it("empties itself and its records on delivery: a second outage forwards only its own messages", async () => {
        const store = new MessageStore({ maxMessages: 10, ttlSec: 60 }, PREFIX, () => db)
        store.add(message(1))
        store.add(message(2))
        assert.deepStrictEqual(bodies(store.takeAll(new Date(T0)).live), ["m1", "m2"])
        assert.strictEqual(store.size, 0)
        store.add(message(3))
        assert.deepStrictEqual(bodies(store.takeAll(new Date(T0)).live), ["m3"])
        await db.barrier()
        const left = (await db.load()).filter(([k]) => k.startsWith(PREFIX))
        assert.deepStrictEqual(left, [])
        const restarted = new MessageStore({ maxMessages: 10, ttlSec: 60 }, PREFIX, () => db)
        restarted.restore(await db.load())
        assert.strictEqual(restarted.size, 0)
    })

    it("keeps undelivered messages in order across a restart, the oldest pushed out first", async () => {
        const store = new MessageStore({ maxMessages: 2, ttlSec: 60 }, PREFIX, () => db)
        assert.strictEqual(store.add(message(1)), undefined)
        store.add(message(2))
        assert.deepStrictEqual(bodies([store.add(message(3))!]), ["m1"])
        await db.barrier()
        const restarted = new MessageStore({ maxMessages: 2, ttlSec: 60 }, PREFIX, () => db)
        restarted.restore(await db.load())
        assert.deepStrictEqual(bodies(restarted.takeAll(new Date(T0)).live), ["m2", "m3"])
    })

    it("splits by the TTL: exactly ttlSec old is live, a millisecond more is expired", () => {
        const store = new MessageStore({ maxMessages: 10, ttlSec: 60 }, PREFIX, () => db)
        store.add(message(1, T0))
        store.add(message(2, T0 + 1))
        const { live, expired } = store.takeAll(new Date(T0 + 60_001))
        assert.deepStrictEqual(bodies(live), ["m2"])
        assert.deepStrictEqual(bodies(expired), ["m1"])
    })
})
