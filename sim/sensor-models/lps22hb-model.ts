// DeviceScript code: the ST LPS22HB at register level, written from its datasheet (DocID027083),
// not from the driver: the register map, address auto-increment only while CTRL_REG2
// IF_ADD_INC is set (its default), one-shot conversion with ODR = 000 that clears itself, STATUS
// P_DA / T_DA cleared when PRESS_OUT_H / TEMP_OUT_H is read, pressure as 24-bit two's complement
// in LSB = 1/4096 hPa, temperature as 16-bit two's complement in LSB = 1/100 °C.
import { I2cModelDevice } from "./i2c-model-bus"

const REG_WHO_AM_I = 0x0f
const REG_CTRL1 = 0x10
const REG_CTRL2 = 0x11
const REG_CTRL3 = 0x12
const REG_STATUS = 0x27
const REG_PRESS_OUT_XL = 0x28
const REG_PRESS_OUT_H = 0x2a
const REG_TEMP_OUT_L = 0x2b
const REG_TEMP_OUT_H = 0x2c
const CTRL1_ODR_MASK = 0x70
const CTRL2_IF_ADD_INC = 0x10
const CTRL2_ONE_SHOT = 0x01
const STATUS_P_DA = 0x01
const STATUS_T_DA = 0x02

export class Lps22hbModel implements I2cModelDevice {
    readonly regs = Buffer.alloc(256)
    /** Fault injection: the one-shot conversion never completes. */
    neverReady = false
    conversions = 0
    private pointer = 0
    private pressureRaw = 0
    private temperatureRaw = 0

    constructor(whoAmI = 0xb1) {
        this.regs[REG_WHO_AM_I] = whoAmI
        this.regs[REG_CTRL2] = CTRL2_IF_ADD_INC
    }

    /** Raw output codes as the datasheet defines them (two's complement, any sign). */
    setRawOutputs(pressure24: number, temperature16: number) {
        this.pressureRaw = pressure24 < 0 ? pressure24 + 0x1000000 : pressure24
        this.temperatureRaw = temperature16 < 0 ? temperature16 + 0x10000 : temperature16
    }

    setClimate(hPa: number, degC: number) {
        this.setRawOutputs(Math.round(hPa * 4096), Math.round(degC * 100))
    }

    transfer(written: Buffer, numRead: number): Buffer {
        if (written.length > 0) {
            this.pointer = written[0]
            for (let i = 1; i < written.length; i++) {
                this.write(this.pointer, written[i])
                this.advance()
            }
        }
        const out = Buffer.alloc(numRead)
        for (let i = 0; i < numRead; i++) {
            out[i] = this.read(this.pointer)
            this.advance()
        }
        return out
    }

    private advance() {
        if ((this.regs[REG_CTRL2] & CTRL2_IF_ADD_INC) !== 0) this.pointer++
    }

    private read(reg: number): number {
        const v = this.regs[reg]
        if (reg === REG_PRESS_OUT_H) this.regs[REG_STATUS] &= ~STATUS_P_DA
        if (reg === REG_TEMP_OUT_H) this.regs[REG_STATUS] &= ~STATUS_T_DA
        return v
    }

    private write(reg: number, v: number) {
        if (reg === REG_CTRL1 || reg === REG_CTRL3) this.regs[reg] = v
        else if (reg === REG_CTRL2) {
            this.regs[reg] = v & ~CTRL2_ONE_SHOT
            if ((v & CTRL2_ONE_SHOT) !== 0) this.oneShot()
        }
    }

    /** One-shot works from power-down (ODR = 000) only. */
    private oneShot() {
        if ((this.regs[REG_CTRL1] & CTRL1_ODR_MASK) !== 0 || this.neverReady) return
        this.conversions++
        const p = this.pressureRaw
        this.regs[REG_PRESS_OUT_XL] = p & 0xff
        this.regs[REG_PRESS_OUT_XL + 1] = (p >> 8) & 0xff
        this.regs[REG_PRESS_OUT_H] = (p >> 16) & 0xff
        this.regs[REG_TEMP_OUT_L] = this.temperatureRaw & 0xff
        this.regs[REG_TEMP_OUT_H] = (this.temperatureRaw >> 8) & 0xff
        this.regs[REG_STATUS] |= STATUS_P_DA | STATUS_T_DA
    }
}
