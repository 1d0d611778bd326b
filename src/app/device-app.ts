// The device's behaviour, independent of the connection: readings on an
// interval into the telemetry queue, twin and method handling, counters.
import * as ds from "@devicescript/core"
import { ClimateSensor } from "./sensors"
import { TelemetryQueue } from "./telemetry"
import { MethodResult, methodHandle } from "./direct-methods"
import { twinBuildDeviceInfo, twinBuildIntervalAck, twinIsNewer, twinParseDesired } from "./device-twin"

/** 21 minutes of readings at the default 10 s interval: a 10-minute outage plus the way back loses none. */
export const QUEUE_CAPACITY = 128

export class DeviceApp {
    readonly queue = new TelemetryQueue(QUEUE_CAPACITY)
    messagesSent = 0
    c2dReceived = 0
    private seq = 0
    private nextReadingMs = 0
    private desiredVersion = 0
    private readonly bootMs = ds.millis()

    constructor(
        readonly firmwareVersion: string,
        private intervalSec: number,
        readonly sensor: ClimateSensor
    ) {}

    interval(): number {
        return this.intervalSec
    }

    msUntilTelemetry(): number {
        return this.nextReadingMs - ds.millis()
    }

    /**
     * Takes readings on schedule whatever the connection does, so an outage
     * leaves them queued rather than untaken. Runs forever (start it as a fiber).
     */
    async runSampler() {
        for (;;) {
            const wait = this.msUntilTelemetry()
            // Short sleeps pick up an interval change within a second.
            if (wait > 0) await ds.sleep(Math.min(wait, 1000))
            else {
                try {
                    await this.takeReading()
                } catch (e) {
                    // A sensor that fails once must not end the sampling for good.
                    console.log("app: reading failed: " + (e as Error).message)
                }
            }
        }
    }

    private async takeReading() {
        this.nextReadingMs = ds.millis() + this.intervalSec * 1000
        const r = await this.sensor.read()
        this.seq++
        const before = this.queue.dropped
        this.queue.push(this.seq, r)
        if (this.queue.dropped > before && (before === 0 || this.queue.dropped % 10 === 0))
            console.log("app: telemetry queue full, " + this.queue.dropped + " oldest readings dropped so far")
    }

    /** Queues an event message (JSON members without braces) in the readings' sequence; returns its number. */
    enqueueEvent(members: string): number {
        this.seq++
        this.queue.pushEvent({ seq: this.seq, body: "{" + members + ',"seq":' + this.seq + "}" })
        return this.seq
    }

    deviceInfoJson(): string {
        return twinBuildDeviceInfo(this.firmwareVersion, this.intervalSec, this.queue.dropped)
    }

    private setInterval(sec: number) {
        if (sec === this.intervalSec) return
        console.log("app: telemetry interval " + this.intervalSec + " s -> " + sec + " s")
        this.intervalSec = sec
        this.nextReadingMs = Math.min(this.nextReadingMs, ds.millis() + sec * 1000)
    }

    /** Applies a desired section if newer than the last applied; returns reported patches to send. */
    private applyDesired(desired: any, source: string): string[] {
        const d = twinParseDesired(desired)
        if (!twinIsNewer(d.version, this.desiredVersion)) {
            console.log("app: ignoring desired version " + d.version + " (" + source + "), already at " + this.desiredVersion)
            return []
        }
        this.desiredVersion = d.version
        if (d.intervalInvalid) return [twinBuildIntervalAck(this.intervalSec, 400, d.version, "telemetryInterval must be 1..3600 s")]
        if (d.interval < 0) return []
        this.setInterval(d.interval)
        console.log("app: desired version " + d.version + " applied (" + source + ")")
        return [twinBuildIntervalAck(d.interval, 200, d.version, "applied")]
    }

    applyTwin(desired: any): string[] {
        return this.applyDesired(desired, "twin")
    }

    applyDesiredPatch(patch: any): string[] {
        return this.applyDesired(patch, "update")
    }

    /** `request`: the parsed JSON payload, or undefined when it was refused. */
    invokeMethod(name: string, request: any): MethodResult {
        const r = methodHandle(name, request, {
            firmwareVersion: this.firmwareVersion,
            intervalSec: this.intervalSec,
            uptimeSec: Math.floor((ds.millis() - this.bootMs) / 1000),
            messagesSent: this.messagesSent,
            queued: this.queue.length(),
            c2dReceived: this.c2dReceived,
        })
        if (r.newIntervalSec > 0) this.setInterval(r.newIntervalSec)
        return r
    }
}
