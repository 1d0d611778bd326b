// Where telemetry readings come from. On a board, the sensor roles (src/board/); the simulator
// uses a deterministic drifting model.
/** °C, %rH, hPa; a quantity the device has no sensor for is left out. */
export interface ClimateReading {
    temperature?: number
    humidity?: number
    pressure?: number
}

export interface ClimateSensor {
    read(): Promise<ClimateReading>
}

function round1(x: number): number {
    return Math.round(x * 10) / 10
}

/** Slow sine-like drift around 21 °C / 45 %RH, so a chart of it looks like a room. */
export class SimulatedClimateSensor implements ClimateSensor {
    private step = 0

    async read(): Promise<ClimateReading> {
        this.step++
        const phase = (this.step % 60) / 60
        const wave = phase < 0.5 ? phase * 4 - 1 : 3 - phase * 4
        return { temperature: round1(21 + 2 * wave), humidity: round1(45 - 5 * wave) }
    }
}
