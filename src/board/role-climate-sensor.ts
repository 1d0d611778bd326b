// Telemetry readings from the device's sensor roles: whatever temperature, humidity and air
// pressure servers the board runs (our drivers, DeviceScript's, a Jacdac module). A role with no
// server is left out of the reading instead of waiting for one.
import * as ds from "@devicescript/core"
import { ClimateReading, ClimateSensor } from "../app/sensors"

function round2(x: number): number {
    return Math.round(x * 100) / 100
}

export class RoleClimateSensor implements ClimateSensor {
    readonly temperature = new ds.Temperature()
    readonly humidity = new ds.Humidity()
    readonly pressure = new ds.AirPressure()

    async read(): Promise<ClimateReading> {
        const r: ClimateReading = {}
        if (this.temperature.isBound) r.temperature = round2(await this.temperature.reading.read())
        if (this.humidity.isBound) r.humidity = round2(await this.humidity.reading.read())
        if (this.pressure.isBound) r.pressure = round2(await this.pressure.reading.read())
        return r
    }
}
