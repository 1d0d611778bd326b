// DeviceScript code: a push button as the simulator's finger presses it, served as a standard
// Button server (the board's button A is a runtime-started one; the VM has no GPIO).
import * as ds from "@devicescript/core"
import { SensorServer, startServer } from "@devicescript/server"

class ButtonModelServer extends SensorServer {
    pressure = 0

    constructor() {
        super(ds.Button.spec)
    }

    reading() {
        return this.pressure
    }
}

export class ButtonModel {
    private readonly server = new ButtonModelServer()

    constructor() {
        startServer(this.server)
    }

    /** Down, then up after `holdMs`, as the Button service reports them (events `down`, `up` with the duration). */
    async press(holdMs: number) {
        this.server.pressure = 1
        await this.server.sendEvent(ds.Button.spec.lookup("down").encode())
        await ds.sleep(holdMs)
        this.server.pressure = 0
        await this.server.sendEvent(ds.Button.spec.lookup("up").encode(holdMs))
    }
}
