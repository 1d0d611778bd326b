// Boot: settings -> wall clock -> assignment (stored, or DPS) -> hub session,
// forever: renew the token by reconnecting, back off on failures, provision
// again when the hub no longer accepts the identity.
import * as ds from "@devicescript/core"
import { DeviceConfig, configRead } from "./config"
import { WallClock, clockSyncFromHttps } from "./time/clock"
import { DpsAssignment, dpsRegister } from "./dps/provisioning-client"
import { HubAuthError, HubSession } from "./hub/hub-session"
import { DeviceApp } from "./app/device-app"
import { peripheralsStart } from "./board/peripherals"
import { statusLightShow } from "./board/status-light"
import { buttonMessagesStart } from "./board/button-messages"
import { retryBackoffMs } from "./retry"
import {
    storeForgetAssignment,
    storeLoadAssignment,
    storeOwnerOf,
    storeSaveAssignment,
} from "./store/assignment-store"

export const FIRMWARE_VERSION = "0.2.0"
const RECONNECT_BASE_MS = 1000
const RECONNECT_MAX_MS = 60000

async function provision(cfg: DeviceConfig, clock: WallClock): Promise<DpsAssignment> {
    await statusLightShow("provisioning")
    const owner = storeOwnerOf(cfg.idScope, cfg.registrationId)
    if (!cfg.reprovision) {
        const stored = await storeLoadAssignment(owner)
        if (stored !== null) {
            console.log("dps: using stored assignment " + stored.assignedHub + " / " + stored.deviceId)
            return stored
        }
    }
    const a = await dpsRegister(
        {
            host: cfg.dps.host,
            port: cfg.dps.port,
            idScope: cfg.idScope,
            registrationId: cfg.registrationId,
            deviceKey: cfg.deviceKey,
            modelId: cfg.modelId,
            sasTtlSec: cfg.sasTtlSec,
            deadlineMs: cfg.dpsTimeoutSec * 1000,
        },
        clock
    )
    console.log("dps: assigned to " + a.assignedHub + " as " + a.deviceId)
    await storeSaveAssignment(owner, a)
    return a
}

async function boot() {
    console.log("boot: azure-iot-devicescript " + FIRMWARE_VERSION)
    const cfg = await configRead()
    console.log("auth: " + (cfg.deviceKey === null ? "X.509 client certificate" : cfg.fromGroupKey ? "key derived from the group key" : "device key"))
    const clock = new WallClock()
    const now = await clockSyncFromHttps(clock, cfg.time.host, cfg.time.port, 15000)
    console.log("clock: " + now + " s since epoch (from " + cfg.time.host + ")")
    const app = new DeviceApp(FIRMWARE_VERSION, cfg.telemetryIntervalSec, await peripheralsStart())
    buttonMessagesStart(app)
    let assignment = await provision(cfg, clock)
    const sampler = async () => {
        await app.runSampler()
    }
    sampler.start()
    let failures = 0
    for (;;) {
        // Through an IoT Edge gateway the TLS peer changes; user name and SAS audience stay the hub's.
        const gw = cfg.gateway
        const target = gw ? gw.host : assignment.assignedHub
        const session = new HubSession(
            {
                hubHostName: assignment.assignedHub,
                connectHost: target,
                // The hub listens where DPS does (8883 in Azure; one port in the emulator).
                port: gw ? gw.port : cfg.hubPort,
                deviceId: assignment.deviceId,
                deviceKey: cfg.deviceKey,
                modelId: cfg.modelId,
                sasTtlSec: cfg.sasTtlSec,
            },
            app
        )
        try {
            console.log("hub: connecting to " + (gw ? "gateway " + gw.host + ":" + gw.port : assignment.assignedHub) + " as " + assignment.deviceId)
            await session.connect(clock)
            console.log("hub: connected")
            await statusLightShow("connected")
            failures = 0
            await session.run()
        } catch (e) {
            await session.close()
            await statusLightShow("offline")
            if (e instanceof HubAuthError) {
                // Refused right after a fresh assignment too: back off rather than hammer DPS.
                const pause = failures > 0 ? retryBackoffMs(failures, RECONNECT_BASE_MS, RECONNECT_MAX_MS, Math.random()) : 0
                failures++
                console.log("hub: " + (e as Error).message + "; provisioning again" + (pause > 0 ? " in " + pause + " ms" : ""))
                if (pause > 0) await ds.sleep(pause)
                await storeForgetAssignment()
                assignment = await provision(cfg, clock)
                continue
            }
            const wait = retryBackoffMs(failures, RECONNECT_BASE_MS, RECONNECT_MAX_MS, Math.random())
            failures++
            console.log("hub: connection lost (" + (e as Error).message + "), reconnecting in " + wait + " ms")
            await ds.sleep(wait)
        }
    }
}

try {
    await boot()
} catch (e) {
    // One line a person (and the simulator's runner) can act on; the device then stays idle
    // rather than hammering a service that already said no.
    console.log("fatal: " + (e as Error).message)
}
