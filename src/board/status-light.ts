// The board's status LED (the `led` of its board file) shows where the device is in its life.
// The runtime may override the colour with its own status blinks (e.g. while Wi-Fi connects).
import { setStatusLight } from "@devicescript/runtime"

export type DeviceStatus = "provisioning" | "connected" | "offline"

const COLOURS = { provisioning: 0x0000ff, connected: 0x00ff00, offline: 0xff6000 }
let shown = ""

/**
 * Blue while provisioning, green on the hub, amber while reconnecting; logged once per change. The colour
 * goes out from a fiber of its own: it is a Jacdac packet, paced by the runtime behind the program's
 * other packets, and the device's work need not wait for the light. Packets leave in the order sent.
 */
export function statusLightShow(status: DeviceStatus) {
    if (status === shown) return
    shown = status
    console.log("status: " + status)
    const colour = COLOURS[status]
    const send = async () => {
        try {
            await setStatusLight(colour)
        } catch (e) {
            // Uncaught, an error in a fiber of its own would stop the VM; the light is not worth that.
            console.log("status: light not set: " + (e as Error).message)
        }
    }
    send.start()
}
