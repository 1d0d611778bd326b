// DeviceScript's standard sensor servers (temperature, humidity, air pressure) over a driver's
// read function, so the application reads roles and any board with these servers works the same.
import * as ds from "@devicescript/core"
import { SensorServer, startServer } from "@devicescript/server"

/**
 * A sensor server whose reading comes from a driver. A failed read keeps the previous value and says
 * so once: streaming must not stop, and the failure is in the log rather than a crash.
 */
class DriverSensorServer extends SensorServer {
    private failing = false

    /** `value`: the reading the driver's start-up conversion gave, so a failure never reports a made-up one. */
    constructor(
        spec: ds.ServiceSpec,
        readonly label: string,
        readonly source: () => Promise<number>,
        private value: number
    ) {
        super(spec)
    }

    async reading() {
        try {
            this.value = await this.source()
            if (this.failing) console.log("sensor: " + this.label + " reads again")
            this.failing = false
        } catch (e) {
            if (!this.failing) console.log("sensor: " + this.label + " read failed (" + (e as Error).message + "), keeping the last value")
            this.failing = true
        }
        return this.value
    }
}

// Each returns the role bound to the server it started (by the name startServer gives it: a role
// without a name binds only to servers the device announced from its start).
export function startTemperatureServer(label: string, source: () => Promise<number>, first: number): ds.Temperature {
    return new ds.Temperature(startServer(new DriverSensorServer(ds.Temperature.spec, label, source, first)))
}

export function startHumidityServer(label: string, source: () => Promise<number>, first: number): ds.Humidity {
    return new ds.Humidity(startServer(new DriverSensorServer(ds.Humidity.spec, label, source, first)))
}

export function startAirPressureServer(label: string, source: () => Promise<number>, first: number): ds.AirPressure {
    return new ds.AirPressure(startServer(new DriverSensorServer(ds.AirPressure.spec, label, source, first)))
}
