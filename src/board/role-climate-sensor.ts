// Telemetry readings from sensor roles: the standard temperature, humidity and air pressure clients
// a driver's start function returns (ours, or DeviceScript's own drivers' on another board). A
// quantity without a role is left out of the reading.
import * as ds from "@devicescript/core"
import { ClimateReading, ClimateSensor } from "../app/sensors"

export interface ClimateRoles {
    temperature?: ds.Temperature
    humidity?: ds.Humidity
    pressure?: ds.AirPressure
}

function round2(x: number): number {
    return Math.round(x * 100) / 100
}

export class RoleClimateSensor implements ClimateSensor {
    constructor(readonly roles: ClimateRoles) {}

    /** Roles bind about a second after their servers start; the first reading should not miss them. */
    async waitForRoles(timeoutMs: number) {
        const end = ds.millis() + timeoutMs
        while (ds.millis() < end && !this.allBound()) await ds.sleep(50)
    }

    private allBound(): boolean {
        const r = this.roles
        return (!r.temperature || r.temperature.isBound) && (!r.humidity || r.humidity.isBound) && (!r.pressure || r.pressure.isBound)
    }

    async read(): Promise<ClimateReading> {
        const roles = this.roles
        const r: ClimateReading = {}
        if (roles.temperature && roles.temperature.isBound) r.temperature = round2(await roles.temperature.reading.read())
        if (roles.humidity && roles.humidity.isBound) r.humidity = round2(await roles.humidity.reading.read())
        if (roles.pressure && roles.pressure.isBound) r.pressure = round2(await roles.pressure.reading.read())
        return r
    }
}
