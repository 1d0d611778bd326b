// What every face of the emulator shares: it starts and it closes. The emulator starts its faces
// in order and closes them in reverse, so a face never outlives one it was started after.
import type { TlsListener } from "./transport/tls-listener"

export interface Face {
    readonly name: string
    start(): Promise<void>
    close(): Promise<void>
}

/** A face that is a TLS listener: `open` starts it; its port is known once started. */
export class ListenerFace implements Face {
    private listener?: TlsListener

    constructor(
        readonly name: string,
        private readonly open: () => Promise<TlsListener>
    ) {}

    get port(): number {
        if (!this.listener) throw new Error(`the ${this.name} face is not started`)
        return this.listener.port
    }

    async start(): Promise<void> {
        this.listener = await this.open()
    }

    async close(): Promise<void> {
        const listener = this.listener
        this.listener = undefined
        await listener?.close()
    }
}
