// What main.ts gets its readings from. On a board: the sensors on its I2C bus, read through their
// roles. In the simulator: the simulated climate, unless an entry file gave it a bus of register
// models first (`npm start -- --board`), in which case the real drivers run against those.
import * as ds from "@devicescript/core"
import { i2c } from "@devicescript/i2c"
import { ClimateSensor, SimulatedClimateSensor } from "../app/sensors"
import { I2cBus } from "../drivers/i2c-bus"
import { boardSensorsStart } from "./board-sensors"
import { RoleClimateSensor } from "./role-climate-sensor"

const ROLE_BIND_TIMEOUT_MS = 3000
let modelBus: I2cBus = null
let startModelServers: () => void = null

/**
 * For simulator entry files: run the drivers on this bus of register models instead of the simulated
 * climate; `startServers` starts the entry's other part models (a button) together with the sensors'.
 */
export function peripheralsUseBus(bus: I2cBus, startServers: () => void) {
    modelBus = bus
    startModelServers = startServers
}

export async function peripheralsStart(): Promise<ClimateSensor> {
    if (ds.isSimulator() && modelBus === null) return new SimulatedClimateSensor()
    const sensor = new RoleClimateSensor(await boardSensorsStart(modelBus === null ? i2c : modelBus, startModelServers))
    await sensor.waitForRoles(ROLE_BIND_TIMEOUT_MS)
    return sensor
}
