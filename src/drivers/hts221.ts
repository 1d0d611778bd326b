// ST HTS221 humidity and temperature sensor (the MXChip AZ3166's), per its datasheet (DocID026333)
// and technical note TN1218: WHO_AM_I 0xBC; one-shot conversions with block data update; per-chip
// factory calibration read once, then linear interpolation between its two points.
import * as ds from "@devicescript/core"
import { I2cBus, SensorError, i2cCheckIdentity, i2cReadRegs, i2cWaitForBits, i2cWriteReg, int16le } from "./i2c-bus"

export const HTS221_ADDRESS = 0x5f
const PART = "HTS221"
const WHO_AM_I = 0x0f
const HTS221_ID = 0xbc
const CTRL_REG1 = 0x20
const CTRL_REG2 = 0x21
const STATUS_REG = 0x27
const HUMIDITY_OUT_L = 0x28
const CALIB_0 = 0x30
/** Sub-address bit 7 asks the HTS221 to increment the register address on multi-byte reads. */
const AUTO_INCREMENT = 0x80
/** CTRL_REG1: PD (active mode) | BDU (outputs not updated between reading LSB and MSB); ODR 00 = one-shot. */
const CTRL1_PD_BDU_ONE_SHOT = 0x84
const CTRL2_ONE_SHOT = 0x01
const STATUS_H_DA_T_DA = 0x03
/** Readings within this age are shared by the temperature and humidity servers. */
const CACHE_MS = 500
const CONVERSION_TIMEOUT_MS = 500

export interface Hts221Calibration {
    /** %rH and raw output at the two humidity calibration points. */
    h0: number
    h1: number
    h0Out: number
    h1Out: number
    /** °C and raw output at the two temperature calibration points. */
    t0: number
    t1: number
    t0Out: number
    t1Out: number
}

export interface Hts221Reading {
    temperature: number
    humidity: number
}

/** Decodes registers 0x30..0x3F. T0/T1 are 10-bit values in 1/8 °C: their bits 9:8 sit in 0x35. */
export function hts221ParseCalibration(c: Buffer): Hts221Calibration {
    const msb = c[0x35 - CALIB_0]
    const cal: Hts221Calibration = {
        h0: c[0] / 2,
        h1: c[1] / 2,
        t0: (((msb & 0x03) << 8) | c[2]) / 8,
        t1: (((msb & 0x0c) << 6) | c[3]) / 8,
        h0Out: int16le(c, 0x36 - CALIB_0),
        h1Out: int16le(c, 0x3a - CALIB_0),
        t0Out: int16le(c, 0x3c - CALIB_0),
        t1Out: int16le(c, 0x3e - CALIB_0),
    }
    if (cal.h0Out === cal.h1Out || cal.t0Out === cal.t1Out) throw new SensorError(PART + ": calibration registers unreadable (equal calibration outputs)")
    return cal
}

/** Linear interpolation as TN1218 gives it; humidity clamped to 0..100 %rH like ST's reference code. */
export function hts221Convert(cal: Hts221Calibration, hOut: number, tOut: number): Hts221Reading {
    const t = cal.t0 + ((tOut - cal.t0Out) * (cal.t1 - cal.t0)) / (cal.t1Out - cal.t0Out)
    const h = cal.h0 + ((hOut - cal.h0Out) * (cal.h1 - cal.h0)) / (cal.h1Out - cal.h0Out)
    return { temperature: t, humidity: Math.max(0, Math.min(100, h)) }
}

export class Hts221 {
    private cal: Hts221Calibration
    private last: Hts221Reading
    private lastMs = -CACHE_MS

    constructor(
        readonly bus: I2cBus,
        readonly address = HTS221_ADDRESS
    ) {}

    /** Identity, calibration, configuration and a first conversion, returned; throws SensorError. */
    async init(): Promise<Hts221Reading> {
        await i2cCheckIdentity(this.bus, PART, this.address, WHO_AM_I, HTS221_ID)
        this.cal = hts221ParseCalibration(await i2cReadRegs(this.bus, PART, this.address, CALIB_0 | AUTO_INCREMENT, 16))
        await i2cWriteReg(this.bus, PART, this.address, CTRL_REG1, CTRL1_PD_BDU_ONE_SHOT)
        return await this.read()
    }

    async read(): Promise<Hts221Reading> {
        if (ds.millis() - this.lastMs < CACHE_MS) return this.last
        await i2cWriteReg(this.bus, PART, this.address, CTRL_REG2, CTRL2_ONE_SHOT)
        await i2cWaitForBits(this.bus, PART, this.address, STATUS_REG, STATUS_H_DA_T_DA, CONVERSION_TIMEOUT_MS)
        const out = await i2cReadRegs(this.bus, PART, this.address, HUMIDITY_OUT_L | AUTO_INCREMENT, 4)
        this.last = hts221Convert(this.cal, int16le(out, 0), int16le(out, 2))
        this.lastMs = ds.millis()
        return this.last
    }
}
