// Boot: settings -> wall clock -> DPS registration.
import { configRead } from "./config"
import { WallClock, clockSyncFromHttps } from "./time/clock"
import { dpsRegister } from "./dps/provisioning-client"

export const FIRMWARE_VERSION = "0.1.0"

async function boot() {
    console.log("boot: azure-iot-devicescript " + FIRMWARE_VERSION)
    const cfg = await configRead()
    const clock = new WallClock()
    const now = await clockSyncFromHttps(clock, cfg.time.host, cfg.time.port, 15000)
    console.log("clock: " + now + " s since epoch (from " + cfg.time.host + ")")
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
}

try {
    await boot()
} catch (e) {
    // One line a person (and the simulator's runner) can act on; the device then stays idle
    // rather than hammering a service that already said no.
    console.log("fatal: " + (e as Error).message)
}
