// The emulator's durable store: LevelDB (classic-level) in one directory, JSON values under
// string keys. Writes are grouped: every put/del made while a commit is on its way joins the next
// one, written as one atomic batch with fsync (LevelDB `sync: true`), so a burst of messages costs
// one disk flush, not one each. `barrier()` is the promise that everything written so far is on
// disk: whatever acknowledges a change waits for it. Values are computed at commit time, so a
// record changed many times in one batch is serialised once.
import * as fs from "fs"
import { ClassicLevel } from "classic-level"

/** Where state changes go: the store once the emulator runs, nowhere before (it is then written whole). */
export interface Journal {
    put(key: string, value: () => unknown): void
    del(key: string): void
}

export const NO_JOURNAL: Journal = { put() {}, del() {} }

interface Deferred {
    promise: Promise<void>
    resolve(): void
    reject(e: Error): void
}

function deferred(): Deferred {
    let resolve!: () => void
    let reject!: (e: Error) => void
    const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
    })
    return { promise, resolve, reject }
}

export interface StoreStats {
    commits: number
    writes: number
}

export class StateStore implements Journal {
    readonly stats: StoreStats = { commits: 0, writes: 0 }
    private pending = new Map<string, (() => unknown) | null>()
    /** The commit under way, and the one the pending writes will go in. */
    private inflight?: Deferred
    private next?: Deferred
    private scheduled = false
    private closed = false

    private constructor(private readonly db: ClassicLevel<string, string>) {}

    /** Opens (creating if needed) the store in `dir`. A second process on the same directory fails here (LevelDB's lock). */
    static async open(dir: string): Promise<StateStore> {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
        const db = new ClassicLevel<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8" })
        await db.open()
        return new StateStore(db)
    }

    /** Deletes every entry (starting fresh), once what is pending is written. */
    async clear(): Promise<void> {
        await this.barrier()
        await this.db.clear()
    }

    /** Every entry, in key order. */
    async load(): Promise<[string, unknown][]> {
        const out: [string, unknown][] = []
        for await (const [k, v] of this.db.iterator()) out.push([k, JSON.parse(v)])
        return out
    }

    put(key: string, value: () => unknown): void {
        this.pending.set(key, value)
        this.schedule()
    }

    del(key: string): void {
        this.pending.set(key, null)
        this.schedule()
    }

    /** Resolves once every write made so far is on disk; undefined when there is nothing to wait for. */
    barrier(): Promise<void> | undefined {
        if (this.pending.size) {
            this.next ??= deferred()
            return this.next.promise
        }
        return this.inflight?.promise
    }

    /** Waits for what is pending, then closes the database. */
    async close(): Promise<void> {
        await this.barrier()
        this.closed = true
        await this.db.close()
    }

    private schedule() {
        this.next ??= deferred()
        if (this.scheduled || this.inflight) return
        this.scheduled = true
        // Everything written in this turn of the event loop goes in one batch.
        setImmediate(() => {
            this.scheduled = false
            this.commit()
        })
    }

    private commit() {
        if (this.inflight || !this.pending.size || this.closed) return
        // A chained batch is one LevelDB WriteBatch too (atomic), at a third of the CPU of batch(array),
        // which copies and re-validates every operation (bench/state.ts, durability cost per message).
        const batch = this.db.batch()
        for (const [key, value] of this.pending) value === null ? batch.del(key) : batch.put(key, JSON.stringify(value()))
        this.stats.writes += this.pending.size
        this.pending = new Map()
        const done = this.next ?? deferred()
        this.inflight = done
        this.next = undefined
        this.stats.commits++
        batch.write({ sync: true }).then(
            () => {
                this.inflight = undefined
                done.resolve()
                // What arrived meanwhile is the next group.
                this.commit()
            },
            (e: Error) => {
                // A store that cannot write cannot keep what the emulator acknowledged: stop, loudly.
                done.reject(e)
                process.nextTick(() => {
                    throw new Error(`emulator state store: write failed: ${e.message}`)
                })
            }
        )
    }
}
