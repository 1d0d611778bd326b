// Reads (and for the bench, narrows) the DeviceScript VM's garbage-collected heap from the WASM
// memory: the VM exports no heap statistics. Layout from microsoft/devicescript
// runtime/devicescript/gc_alloc.c (32-bit, as on an ESP32): devs_gc_create() allocates a
// devs_gc_t { first_free, first_chunk, num_alloc, gc_threshold, curr_alloc, ctx } followed by
// one chunk of JD_GC_KB * 1024 bytes, chunk_t { next, end } then blocks. A block starts with a
// header word: tag in the top byte, size in words in the low 24 bits; `end` holds a FINAL block.

const TAG_SHIFT = 24
const SIZE_MASK = 0xffffff
const TAG_BASIC_MASK = 0x0f
const TAG_FREE = 0x01
const FINAL_HEADER = 0x4f000001 // DEVS_GC_MK_TAG_WORDS(DEVS_GC_TAG_FINAL, 1)
const GC_STRUCT_BYTES = 24
const CHUNK_HEADER_BYTES = 8
/** devs_gc_add_chunk: a GC runs when words allocated since the last one exceed size / 4 / JD_GC_FRACTION (4). */
const THRESHOLD_DIVISOR = 16

/** Where a VM's GC heap lies in its WASM memory (byte addresses). */
export interface GcHeap {
    gc: number
    chunk: number
    /** Address of the FINAL block. */
    end: number
}

export interface HeapUse {
    /** The chunk's size, as JD_GC_KB * 1024 would give it. */
    heapBytes: number
    /** Bytes in blocks not free: live objects and garbage not yet collected (headers included). */
    usedBytes: number
    /** Offset just past the highest block in use: what a heap of that size would have held at this moment. */
    topBytes: number
    /** Bytes allocated since the last collection (gc->curr_alloc): usedBytes less this is what the last GC kept. */
    sinceGcBytes: number
}

function words(mem: Uint8Array): Uint32Array {
    return new Uint32Array(mem.buffer, mem.byteOffset, mem.byteLength >>> 2)
}

/** The heap of the running program, or undefined before the VM created it. */
export function findGcHeap(mem: Uint8Array): GcHeap | undefined {
    const w = words(mem)
    for (let i = 0; i + 8 < w.length; i++) {
        const chunk = i * 4 + GC_STRUCT_BYTES
        if (w[i + 1] !== chunk || w[i + 6] !== 0) continue
        const end = w[i + 7]
        if (end <= chunk || end >= mem.byteLength || end & 3 || w[end >>> 2] !== FINAL_HEADER) continue
        return { gc: i * 4, chunk, end }
    }
    return undefined
}

/** Walks the blocks; throws if the structure is not what gc_alloc.c lays out (the heap moved or was freed). */
export function heapUse(mem: Uint8Array, heap: GcHeap): HeapUse {
    const w = words(mem)
    const end = w[(heap.chunk + 4) >>> 2]
    if (w[(heap.gc + 4) >>> 2] !== heap.chunk || w[end >>> 2] !== FINAL_HEADER) throw new Error("VM heap: not at its address any more")
    let usedBytes = 0
    let topBytes = 0
    for (let p = heap.chunk + CHUNK_HEADER_BYTES; p < end; ) {
        const header = w[p >>> 2]
        const size = (header & SIZE_MASK) * 4
        if (size === 0) throw new Error(`VM heap: bad block header at ${p}`)
        if (((header >>> TAG_SHIFT) & TAG_BASIC_MASK) !== TAG_FREE) {
            usedBytes += size
            topBytes = p + size - heap.chunk
        }
        p += size
    }
    return { heapBytes: end + 4 - heap.chunk, usedBytes, topBytes, sinceGcBytes: w[(heap.gc + 16) >>> 2] * 4 }
}

/**
 * Makes the heap `bytes` long, as if the VM had been built with that JD_GC_KB (also its GC
 * threshold), by cutting the free block at its end. Returns false if blocks in use reach past the cut.
 */
export function limitHeap(mem: Uint8Array, heap: GcHeap, bytes: number): boolean {
    const w = words(mem)
    const newEnd = (heap.chunk + bytes - 4) & ~3
    let last = -1
    for (let p = heap.chunk + CHUNK_HEADER_BYTES; p < heap.end; p += (w[p >>> 2] & SIZE_MASK) * 4) last = p
    const lastTag = (w[last >>> 2] >>> TAG_SHIFT) & TAG_BASIC_MASK
    // A free block keeps at least two words (its header and free-list link).
    if (last < 0 || lastTag !== TAG_FREE || newEnd - last < 8 || newEnd >= heap.end) return false
    w[last >>> 2] = (TAG_FREE << TAG_SHIFT) | ((newEnd - last) >>> 2)
    w[newEnd >>> 2] = FINAL_HEADER
    w[(heap.chunk + 4) >>> 2] = newEnd
    w[(heap.gc + 12) >>> 2] = Math.floor(bytes / THRESHOLD_DIVISOR)
    heap.end = newEnd
    return true
}
