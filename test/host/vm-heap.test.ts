// The bench reads the VM's GC heap out of WASM memory: the layout must be found in the pinned VM,
// its blocks added up, and a limit must cut only the free tail (a program keeps running in it).
import * as assert from "assert"
import * as fs from "fs"
import { SimulatedDevice } from "../../sim/host/device"
import { GcHeap, HeapUse, findGcHeap, heapUse, limitHeap } from "../../sim/host/vm-heap"
import { buildFixture } from "./fixtures"

/** A heap as gc_alloc.c lays it out at `base`: gc struct, chunk of `size` bytes, one used block of `usedWords`, free tail. */
function fakeHeap(size: number, usedWords: number): { mem: Uint8Array; w: Uint32Array; heap: GcHeap } {
    const mem = new Uint8Array(256 + size + 64)
    const w = new Uint32Array(mem.buffer)
    const gc = 256
    const chunk = gc + 24
    const end = chunk + size - 4
    const first = chunk + 8
    const free = first + usedWords * 4
    w[gc / 4] = free // first_free
    w[gc / 4 + 1] = chunk // first_chunk
    w[gc / 4 + 3] = size / 16 // gc_threshold, words
    w[gc / 4 + 4] = 5 // curr_alloc, words
    w[chunk / 4 + 1] = end
    w[first / 4] = (0x04 << 24) | usedWords // a map
    w[free / 4] = (0x01 << 24) | ((end - free) / 4)
    w[end / 4] = 0x4f000001
    return { mem, w, heap: { gc, chunk, end } }
}

describe("VM heap reader", function () {
    this.timeout(60000)

    it("finds a heap laid out as gc_alloc.c does and adds up its blocks", () => {
        const { mem } = fakeHeap(4096, 10)
        const heap = findGcHeap(mem)!
        assert.deepStrictEqual(heap, { gc: 256, chunk: 280, end: 280 + 4096 - 4 })
        assert.deepStrictEqual(heapUse(mem, heap), { heapBytes: 4096, usedBytes: 40, topBytes: 48, sinceGcBytes: 20 })
    })

    it("cuts the free tail to a smaller heap with its GC threshold, never a block in use", () => {
        const { mem, w, heap } = fakeHeap(4096, 10)
        assert.strictEqual(limitHeap(mem, { ...heap }, 40), false, "the used block reaches past 40 bytes")
        assert.strictEqual(limitHeap(mem, heap, 1024), true)
        assert.strictEqual(heapUse(mem, heap).heapBytes, 1024)
        assert.strictEqual(w[(256 + 12) / 4], 64, "threshold: 1024 bytes / 4 / JD_GC_FRACTION, in words")
        assert.strictEqual(w[heap.end / 4], 0x4f000001)
    })

    it("reads the heap of a program running in the pinned VM, which keeps running in a limited heap", async () => {
        const bytecode = fs.readFileSync(await buildFixture("device-basics"))
        let first: HeapUse | undefined
        let last: HeapUse | undefined
        let heap: GcHeap | undefined
        const d = new SimulatedDevice(
            { bytecode, settings: {}, trustAnchors: [] },
            {
                onVmStep: (mem) => {
                    heap ??= findGcHeap(mem)
                    if (!heap) return
                    if (!first) {
                        first = heapUse(mem, heap)
                        assert.ok(limitHeap(mem, heap, 8192))
                    }
                    last = heapUse(mem, heap)
                },
            }
        )
        try {
            await d.boot()
            await d.waitForConsole(/boot number 1/, 10000)
        } finally {
            await d.stop()
        }
        assert.strictEqual(first!.heapBytes, 64 * 1024, "the simulator VM's JD_GC_KB")
        assert.ok(first!.usedBytes > 0 && first!.usedBytes <= first!.topBytes)
        assert.strictEqual(last!.heapBytes, 8192)
        assert.ok(last!.topBytes <= 8192)
    })
})
