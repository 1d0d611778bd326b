// The MXChip AZ3166's environment sensors on the board's I2C bus: each one found starts its standard
// servers; one that is absent or broken is reported once and telemetry goes on without it.
import { I2cBus, hex2 } from "../drivers/i2c-bus"
import { HTS221_ADDRESS, Hts221 } from "../drivers/hts221"
import { LPS22HB_ADDRESS, Lps22hb } from "../drivers/lps22hb"
import { startAirPressureServer, startHumidityServer, startTemperatureServer } from "./climate-servers"
import { ClimateRoles } from "./role-climate-sensor"

/** The part's first reading, or null (reported) when it cannot be used. */
async function initOrReport<T>(part: { init(): Promise<T> }): Promise<T> {
    try {
        return await part.init()
    } catch (e) {
        console.log("sensor: " + (e as Error).message + "; telemetry goes on without it")
        return null
    }
}

/**
 * Initializes the parts, then starts every server in one step: the VM's role clients learn a device's
 * servers from its first announcement (500 ms after the first server starts), never later ones.
 * `startOtherServers` (the simulator's part models) joins that step. Returns the roles that started.
 */
export async function boardSensorsStart(bus: I2cBus, startOtherServers: () => void = null): Promise<ClimateRoles> {
    const hts = new Hts221(bus)
    const lps = new Lps22hb(bus)
    const htsFirst = await initOrReport(hts)
    const lpsFirst = await initOrReport(lps)
    const roles: ClimateRoles = {}
    if (htsFirst !== null) {
        roles.temperature = startTemperatureServer("HTS221", async () => (await hts.read()).temperature, htsFirst.temperature)
        roles.humidity = startHumidityServer("HTS221", async () => (await hts.read()).humidity, htsFirst.humidity)
        console.log("sensor: HTS221 at I2C " + hex2(HTS221_ADDRESS) + ": temperature, humidity")
    }
    if (lpsFirst !== null) {
        roles.pressure = startAirPressureServer("LPS22HB", async () => (await lps.read()).pressure, lpsFirst.pressure)
        console.log("sensor: LPS22HB at I2C " + hex2(LPS22HB_ADDRESS) + ": pressure")
    }
    if (startOtherServers !== null) startOtherServers()
    return roles
}
