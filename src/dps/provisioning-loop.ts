// The provisioning stage of the device's life: the stored assignment, or DPS
// attempts until one assigns. Transport and server trouble back off from
// seconds to minutes; a definitive refusal (credentials, disabled enrollment,
// failed allocation) waits far longer, growing to an hour, and asks again:
// an operator may fix the enrollment at any time, and the device is not there
// to be restarted.
import * as ds from "@devicescript/core"
import { DeviceConfig } from "../config"
import { Backoff, retryDescribeMs } from "../retry"
import { WallClock, clockSyncForever } from "../time/clock"
import { DpsAssignment, ProvisioningError, dpsRegister } from "./provisioning-client"
import { DPS_MAX_RETRY_AFTER_SEC } from "./provisioning-policy"
import { storeLoadAssignment, storeOwnerOf, storeSaveAssignment } from "../store/assignment-store"

export const REFUSED_MAX_MS = 3600000
const TRANSIENT_BASE_MS = 2000
const TRANSIENT_MAX_MS = 300000

/** Waits after refusals, shared with the hub stage: only a healthy hub session resets it. */
export function refusalBackoff(cfg: DeviceConfig): Backoff {
    return new Backoff(cfg.refusedRetrySec * 1000, REFUSED_MAX_MS)
}

export async function provisionForever(cfg: DeviceConfig, clock: WallClock, refusals: Backoff): Promise<DpsAssignment> {
    const owner = storeOwnerOf(cfg.idScope, cfg.registrationId)
    if (!cfg.reprovision) {
        const stored = await storeLoadAssignment(owner)
        if (stored !== null) {
            console.log("dps: using stored assignment " + stored.assignedHub + " / " + stored.deviceId)
            return stored
        }
    }
    const transient = new Backoff(TRANSIENT_BASE_MS, TRANSIENT_MAX_MS)
    for (;;) {
        try {
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
            storeSaveAssignment(owner, a)
            return a
        } catch (e) {
            const pe = e instanceof ProvisioningError ? (e as ProvisioningError) : null
            if (pe !== null && pe.definitive) {
                const wait = refusals.next(Math.random())
                console.log("dps: " + pe.message + "; asking again in " + retryDescribeMs(wait))
                await ds.sleep(wait)
                // A refused token may have been signed with a wrong clock: set it again before the next try.
                await clockSyncForever(clock, cfg.time.host, cfg.time.port)
            } else {
                const hint = pe !== null ? Math.min(pe.retryAfterMs, DPS_MAX_RETRY_AFTER_SEC * 1000) : 0
                const wait = Math.max(hint, transient.next(Math.random()))
                console.log("dps: " + (e as Error).message + "; retrying in " + retryDescribeMs(wait))
                await ds.sleep(wait)
            }
        }
    }
}
