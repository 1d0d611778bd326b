// Boot: settings -> wall clock -> assignment (stored, or DPS) -> hub session,
// for ever: renew the token by reconnecting, back off on failures, provision
// again when the hub no longer accepts the identity. Every stage retries; only
// a configuration error stops the program.
import * as ds from "@devicescript/core"
import { DeviceConfig, configRead } from "./config"
import { WallClock, clockSyncForever } from "./time/clock"
import { provisionForever, refusalBackoff } from "./dps/provisioning-loop"
import { HubAuthError, HubSession } from "./hub/hub-session"
import { DeviceApp } from "./app/device-app"
import { peripheralsStart } from "./board/peripherals"
import { statusLightShow } from "./board/status-light"
import { buttonMessagesStart } from "./board/button-messages"
import { Backoff, retryDescribeMs } from "./retry"
import { ConfigError } from "./errors"
import { storeForgetAssignment, storeReadAhead } from "./store/assignment-store"

export const FIRMWARE_VERSION = "0.3.0"
const RECONNECT_BASE_MS = 1000
const RECONNECT_MAX_MS = 60000
/**
 * A hub that has not accepted a connection for this long may be gone (deleted, its name no longer
 * resolving); DPS knows where the device belongs now. An outage shorter than this never sends the
 * device back to DPS.
 */
const HUB_UNREACHABLE_BEFORE_DPS_MS = 3600000

async function live(cfg: DeviceConfig, app: DeviceApp) {
    const clock = new WallClock()
    const now = await clockSyncForever(clock, cfg.time.host, cfg.time.port)
    console.log("clock: " + now + " s since epoch (from " + cfg.time.host + ")")
    const refusals = refusalBackoff(cfg)
    const transport = new Backoff(RECONNECT_BASE_MS, RECONNECT_MAX_MS)
    statusLightShow("provisioning")
    let assignment = await provisionForever(cfg, clock, refusals)
    /** Since when no connection to the hub was accepted, or -1. */
    let unreachableSinceMs = -1
    for (;;) {
        // Through an IoT Edge gateway the TLS peer changes; user name and SAS audience stay the hub's.
        const gw = cfg.gateway
        const session = new HubSession(
            {
                hubHostName: assignment.assignedHub,
                connectHost: gw ? gw.host : assignment.assignedHub,
                // The hub listens where DPS does (8883 in Azure; one port in the emulator).
                port: gw ? gw.port : cfg.hubPort,
                deviceId: assignment.deviceId,
                deviceKey: cfg.deviceKey,
                modelId: cfg.modelId,
                sasTtlSec: cfg.sasTtlSec,
            },
            app
        )
        let failure: Error = null
        try {
            console.log("hub: connecting to " + (gw ? "gateway " + gw.host + ":" + gw.port : assignment.assignedHub) + " as " + assignment.deviceId)
            await session.connect(clock)
            console.log("hub: connected")
            statusLightShow("connected")
            await session.run()
        } catch (e) {
            failure = e as Error
        }
        await session.close()
        if (failure !== null) statusLightShow("offline")
        // Only a session that stayed up and was served resets the waits: a hub (or a twin device
        // sharing the identity) that accepts and drops cannot make the device hammer it.
        if (session.provedHealthy()) {
            transport.reset()
            refusals.reset()
        }
        if (failure === null) continue
        if (session.wasAccepted()) unreachableSinceMs = -1
        else if (unreachableSinceMs < 0) unreachableSinceMs = ds.millis()
        const refused = failure instanceof HubAuthError
        if (refused || (unreachableSinceMs >= 0 && ds.millis() - unreachableSinceMs >= HUB_UNREACHABLE_BEFORE_DPS_MS)) {
            // The first refusal provisions at once (the identity moved or was re-keyed); a refusal
            // again right after a fresh assignment waits, growing, rather than hammer DPS.
            const again = refused && refusals.failures() > 0
            const wait = refused ? refusals.next(Math.random()) : 0
            console.log("hub: " + failure.message + "; provisioning again" + (again ? " in " + retryDescribeMs(wait) : ""))
            if (again) await ds.sleep(wait)
            transport.reset()
            unreachableSinceMs = -1
            await storeForgetAssignment()
            statusLightShow("provisioning")
            assignment = await provisionForever(cfg, clock, refusals)
            continue
        }
        const wait = transport.next(Math.random())
        console.log("hub: connection lost (" + failure.message + "), reconnecting in " + retryDescribeMs(wait))
        await ds.sleep(wait)
    }
}

async function boot() {
    console.log("boot: azure-iot-devicescript " + FIRMWARE_VERSION)
    // In the same round as the configuration: asked later, the reads wait out the runtime's packet throttle.
    storeReadAhead()
    const cfg = await configRead()
    console.log("auth: " + (cfg.deviceKey === null ? "X.509 client certificate" : cfg.fromGroupKey ? "key derived from the group key" : "device key"))
    const app = new DeviceApp(FIRMWARE_VERSION, cfg.telemetryIntervalSec, await peripheralsStart())
    buttonMessagesStart(app)
    const sampler = async () => {
        await app.runSampler()
    }
    sampler.start()
    // live() retries every stage itself; this loop is for the error nobody foresaw.
    const unforeseen = new Backoff(RECONNECT_BASE_MS, RECONNECT_MAX_MS)
    for (;;) {
        try {
            await live(cfg, app)
        } catch (e) {
            const wait = unforeseen.next(Math.random())
            console.log("boot: unexpected " + (e as Error).name + ": " + (e as Error).message + "; starting over in " + retryDescribeMs(wait))
            await ds.sleep(wait)
        }
    }
}

try {
    await boot()
} catch (e) {
    if (!(e instanceof ConfigError)) throw e
    // One line naming the setting; the device then idles rather than run on a configuration it cannot use.
    console.log("fatal: " + (e as Error).message)
}
