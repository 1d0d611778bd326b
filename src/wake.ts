// Wakes fibers waiting for "something changed". The runtime's ds.wait(emitter)
// resumes its waiter from a handler fiber started later; when several emits come
// before that fiber runs (a burst of packets), it can resume a waiter that has
// since finished, and the VM dies with "fiber already disposed". Here waiters
// are resumed synchronously and leave the list before they run again, so a
// fiber is only ever resumed while it is suspended in wait().
import * as ds from "@devicescript/core"

export class Wake {
    private waiters: ds.Fiber[] = []

    /** Returns when notify() is called or after `timeoutMs`, whichever comes first. */
    async wait(timeoutMs: number) {
        const self = ds.Fiber.self()
        this.waiters.push(self)
        try {
            await ds.suspend(timeoutMs)
        } finally {
            const i = this.waiters.indexOf(self)
            if (i >= 0) this.waiters.insert(i, -1)
        }
    }

    notify() {
        const waiting = this.waiters
        if (waiting.length === 0) return
        this.waiters = []
        for (const f of waiting) if (f.suspended) f.resume(undefined)
    }
}
