// The MXChip AZ3166's environment sensors on the board's I2C bus: each one found starts its standard
// servers; one that is absent or broken is reported once and telemetry goes on without it.
import { I2cBus, hex2 } from "../drivers/i2c-bus"
import { HTS221_ADDRESS, Hts221 } from "../drivers/hts221"
import { LPS22HB_ADDRESS, Lps22hb } from "../drivers/lps22hb"
import { startAirPressureServer, startHumidityServer, startTemperatureServer } from "./climate-servers"

/** Returns the names of the sensors that started. */
export async function boardSensorsStart(bus: I2cBus): Promise<string[]> {
    const started: string[] = []
    const hts = new Hts221(bus)
    try {
        await hts.init()
        startTemperatureServer("HTS221", async () => (await hts.read()).temperature)
        startHumidityServer("HTS221", async () => (await hts.read()).humidity)
        started.push("HTS221")
        console.log("sensor: HTS221 at I2C " + hex2(HTS221_ADDRESS) + ": temperature, humidity")
    } catch (e) {
        console.log("sensor: " + (e as Error).message + "; telemetry goes on without it")
    }
    const lps = new Lps22hb(bus)
    try {
        await lps.init()
        startAirPressureServer("LPS22HB", async () => (await lps.read()).pressure)
        started.push("LPS22HB")
        console.log("sensor: LPS22HB at I2C " + hex2(LPS22HB_ADDRESS) + ": pressure")
    } catch (e) {
        console.log("sensor: " + (e as Error).message + "; telemetry goes on without it")
    }
    return started
}
