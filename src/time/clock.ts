// Wall-clock time learned from the network, carried forward with ds.millis().
import * as ds from "@devicescript/core"
import { connect } from "@devicescript/net"
import { httpBuildDateRequest, httpFindDateHeader, httpParseImfFixdate } from "./http-date"

const MAX_HEAD = 4096

export class WallClock {
    private baseSec = -1
    private baseMs = 0

    set(epochSec: number) {
        this.baseSec = epochSec
        this.baseMs = ds.millis()
    }

    isSet(): boolean {
        return this.baseSec >= 0
    }

    /** Seconds since the epoch; throws before the clock was set, since SAS expiry must be real time. */
    nowSec(): number {
        if (this.baseSec < 0) throw new Error("clock: wall time not known yet")
        return this.baseSec + Math.floor((ds.millis() - this.baseMs) / 1000)
    }
}

/** Sets the clock from the Date header of an HTTPS HEAD request to host:port. */
export async function clockSyncFromHttps(
    clock: WallClock,
    host: string,
    port: number,
    timeoutMs: number
): Promise<number> {
    const sock = await connect({ host, port, proto: "tls", timeout: timeoutMs })
    try {
        await sock.send(httpBuildDateRequest(host))
        const deadline = ds.millis() + timeoutMs
        let head = Buffer.alloc(0)
        for (;;) {
            const end = head.toString("utf-8").indexOf("\r\n\r\n")
            if (end >= 0) {
                head = head.slice(0, end)
                break
            }
            if (head.length > MAX_HEAD) throw new Error("clock: response head too large")
            const left = deadline - ds.millis()
            if (left <= 0) throw new Error("clock: no response from " + host)
            const chunk = await sock.recv(left)
            if (chunk === null) break
            if (chunk !== undefined) head = head.concat(chunk)
        }
        const date = httpFindDateHeader(head.toString("utf-8"))
        const sec = date === null ? -1 : httpParseImfFixdate(date)
        if (sec < 0) throw new Error("clock: no valid Date header from " + host)
        clock.set(sec)
        return sec
    } finally {
        await sock.close()
    }
}
