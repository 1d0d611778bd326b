// Wall-clock time learned from the network, carried forward with ds.millis().
import * as ds from "@devicescript/core"
import { connect } from "@devicescript/net"
import { httpBuildDateRequest, httpFindDateHeader, httpParseImfFixdate } from "./http-date"
import { Backoff, retryDescribeMs } from "../retry"

const MAX_HEAD = 4096
/** 2025-01-01T00:00:00Z. */
const EARLIEST_EPOCH_SEC = 1735689600

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
export async function clockSyncFromHttps(clock: WallClock, host: string, port: number, timeoutMs: number): Promise<number> {
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
            if (head.length > MAX_HEAD) throw new Error("response head too large")
            const left = deadline - ds.millis()
            if (left <= 0) throw new Error("no response from " + host)
            const chunk = await sock.recv(left)
            if (chunk === null) break
            if (chunk !== undefined) head = head.concat(chunk)
        }
        const date = httpFindDateHeader(head.toString("utf-8"))
        const sec = date === null ? -1 : httpParseImfFixdate(date)
        // A date before this firmware was written is a broken server, and tokens signed with it would be refused.
        if (sec < EARLIEST_EPOCH_SEC) throw new Error("no valid Date header from " + host)
        clock.set(sec)
        return sec
    } finally {
        await sock.close()
    }
}

const SYNC_TIMEOUT_MS = 15000

/**
 * Sets the clock, retrying for ever with backoff: on a board this is also the wait for
 * the network (Wi-Fi may come up long after boot), and no time server's answer is final.
 */
export async function clockSyncForever(clock: WallClock, host: string, port: number): Promise<number> {
    const backoff = new Backoff(1000, 60000)
    for (;;) {
        try {
            return await clockSyncFromHttps(clock, host, port, SYNC_TIMEOUT_MS)
        } catch (e) {
            const wait = backoff.next(Math.random())
            console.log("clock: " + (e as Error).message + "; retrying in " + retryDescribeMs(wait))
            await ds.sleep(wait)
        }
    }
}
