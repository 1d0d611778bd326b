// Button A (the first button server on the device: the MXChip-like board's GPIO4) sends a message
// to the hub, queued with the readings so an outage delays it but does not lose it.
import * as ds from "@devicescript/core"
import { DeviceApp } from "../app/device-app"

export function buttonMessagesStart(app: DeviceApp): ds.Button {
    const button = new ds.Button()
    button.down.subscribe(() => {
        const seq = app.enqueueEvent('"button":"A"')
        console.log("app: button A pressed, message #" + seq + " queued")
    })
    return button
}
