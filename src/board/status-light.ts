// The board's status LED (the `led` of its board file) shows where the device is in its life.
// The runtime may override the colour with its own status blinks (e.g. while Wi-Fi connects).
import { setStatusLight } from "@devicescript/runtime"

export type DeviceStatus = "provisioning" | "connected" | "offline"

const COLOURS = { provisioning: 0x0000ff, connected: 0x00ff00, offline: 0xff6000 }
let shown = ""

/** Blue while provisioning, green on the hub, amber while reconnecting; logged once per change. */
export async function statusLightShow(status: DeviceStatus) {
    if (status === shown) return
    shown = status
    console.log("status: " + status)
    await setStatusLight(COLOURS[status])
}
