// ST LPS22HB barometer (the MXChip AZ3166's), per its datasheet (DocID027083): WHO_AM_I 0xB1;
// one-shot conversions with block data update; pressure is 24-bit two's complement in 1/4096 hPa,
// temperature 16-bit two's complement in 1/100 °C. Address increment is on by default (IF_ADD_INC).
import { I2cBus, i2cCheckIdentity, i2cReadRegs, i2cWaitForBits, i2cWriteReg, int16le } from "./i2c-bus"

export const LPS22HB_ADDRESS = 0x5c
const PART = "LPS22HB"
const WHO_AM_I = 0x0f
const LPS22HB_ID = 0xb1
const CTRL_REG1 = 0x10
const CTRL_REG2 = 0x11
const STATUS = 0x27
const PRESS_OUT_XL = 0x28
/** CTRL_REG1: ODR 000 (power-down, one-shot on request) | BDU. */
const CTRL1_ONE_SHOT_BDU = 0x02
/** CTRL_REG2: IF_ADD_INC (keep the default) | ONE_SHOT. */
const CTRL2_ADD_INC_ONE_SHOT = 0x11
const STATUS_P_DA_T_DA = 0x03
const CONVERSION_TIMEOUT_MS = 500

export interface Lps22hbReading {
    /** hPa */
    pressure: number
    /** °C (the die's temperature) */
    temperature: number
}

/** PRESS_OUT_XL, _L, _H then TEMP_OUT_L, _H (registers 0x28..0x2C). */
export function lps22hbConvert(b: Buffer): Lps22hbReading {
    let p = b[0] | (b[1] << 8) | (b[2] << 16)
    if (p >= 0x800000) p -= 0x1000000
    return { pressure: p / 4096, temperature: int16le(b, 3) / 100 }
}

export class Lps22hb {
    constructor(
        readonly bus: I2cBus,
        readonly address = LPS22HB_ADDRESS
    ) {}

    /** Identity, configuration and a first conversion, returned; throws SensorError. */
    async init(): Promise<Lps22hbReading> {
        await i2cCheckIdentity(this.bus, PART, this.address, WHO_AM_I, LPS22HB_ID)
        await i2cWriteReg(this.bus, PART, this.address, CTRL_REG1, CTRL1_ONE_SHOT_BDU)
        return await this.read()
    }

    async read(): Promise<Lps22hbReading> {
        await i2cWriteReg(this.bus, PART, this.address, CTRL_REG2, CTRL2_ADD_INC_ONE_SHOT)
        await i2cWaitForBits(this.bus, PART, this.address, STATUS, STATUS_P_DA_T_DA, CONVERSION_TIMEOUT_MS)
        return lps22hbConvert(await i2cReadRegs(this.bus, PART, this.address, PRESS_OUT_XL, 5))
    }
}
