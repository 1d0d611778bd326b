// DeviceScript code: the ST HTS221 at register level, written from its datasheet (DocID026333) and
// TN1218, not from the driver: the register map, sub-address bit 7 = address auto-increment on
// multi-byte access over I2C, CTRL_REG1 PD / ODR, a one-shot conversion in CTRL_REG2 that clears
// itself, STATUS_REG H_DA / T_DA cleared when the output's high byte is read, and the factory
// calibration registers 0x30..0x3F with T0/T1 bits 9:8 in register 0x35.
import { I2cModelDevice } from "./i2c-model-bus"

/** A chip's factory calibration: two humidity points and two temperature points with their raw outputs. */
export interface Hts221Factory {
    h0rH: number
    h1rH: number
    h0Out: number
    h1Out: number
    t0degC: number
    t1degC: number
    t0Out: number
    t1Out: number
}

const REG_WHO_AM_I = 0x0f
const REG_AV_CONF = 0x10
const REG_CTRL1 = 0x20
const REG_CTRL2 = 0x21
const REG_CTRL3 = 0x22
const REG_STATUS = 0x27
const REG_HUMIDITY_OUT_L = 0x28
const REG_HUMIDITY_OUT_H = 0x29
const REG_TEMP_OUT_L = 0x2a
const REG_TEMP_OUT_H = 0x2b
const CTRL1_PD = 0x80
const CTRL1_ODR_MASK = 0x03
const CTRL2_ONE_SHOT = 0x01
const STATUS_T_DA = 0x01
const STATUS_H_DA = 0x02

function putS16(regs: Buffer, at: number, v: number) {
    const u = v < 0 ? v + 0x10000 : v
    regs[at] = u & 0xff
    regs[at + 1] = (u >> 8) & 0xff
}

export class Hts221Model implements I2cModelDevice {
    readonly regs = Buffer.alloc(256)
    /** Fault injection: the one-shot conversion never completes. */
    neverReady = false
    conversions = 0
    private pointer = 0
    private hOut = 0
    private tOut = 0

    constructor(
        readonly factory: Hts221Factory,
        whoAmI = 0xbc
    ) {
        const r = this.regs
        r[REG_WHO_AM_I] = whoAmI
        r[REG_AV_CONF] = 0x1b
        r[0x30] = Math.round(factory.h0rH * 2)
        r[0x31] = Math.round(factory.h1rH * 2)
        const t0x8 = Math.round(factory.t0degC * 8)
        const t1x8 = Math.round(factory.t1degC * 8)
        r[0x32] = t0x8 & 0xff
        r[0x33] = t1x8 & 0xff
        // Register 0x35: bits 1:0 = T0_degC_x8 bits 9:8, bits 3:2 = T1_degC_x8 bits 9:8; the rest reserved.
        r[0x35] = ((t0x8 >> 8) & 0x03) | (((t1x8 >> 8) & 0x03) << 2)
        putS16(r, 0x36, factory.h0Out)
        putS16(r, 0x3a, factory.h1Out)
        putS16(r, 0x3c, factory.t0Out)
        putS16(r, 0x3e, factory.t1Out)
    }

    /** The raw outputs the next conversion produces. */
    setRawOutputs(hOut: number, tOut: number) {
        this.hOut = hOut
        this.tOut = tOut
    }

    /** The physical climate: the chip's outputs lie on the line through its two calibration points. */
    setClimate(degC: number, rH: number) {
        const f = this.factory
        this.setRawOutputs(
            Math.round(f.h0Out + ((rH - f.h0rH) * (f.h1Out - f.h0Out)) / (f.h1rH - f.h0rH)),
            Math.round(f.t0Out + ((degC - f.t0degC) * (f.t1Out - f.t0Out)) / (f.t1degC - f.t0degC))
        )
    }

    transfer(written: Buffer, numRead: number): Buffer {
        let increment = false
        if (written.length > 0) {
            this.pointer = written[0] & 0x7f
            increment = (written[0] & 0x80) !== 0
            for (let i = 1; i < written.length; i++) {
                this.write(this.pointer, written[i])
                if (increment) this.pointer++
            }
        }
        const out = Buffer.alloc(numRead)
        for (let i = 0; i < numRead; i++) {
            out[i] = this.read(this.pointer)
            if (increment) this.pointer++
        }
        return out
    }

    private read(reg: number): number {
        const v = this.regs[reg]
        if (reg === REG_HUMIDITY_OUT_H) this.regs[REG_STATUS] &= ~STATUS_H_DA
        if (reg === REG_TEMP_OUT_H) this.regs[REG_STATUS] &= ~STATUS_T_DA
        return v
    }

    private write(reg: number, v: number) {
        // Only AV_CONF and the control registers are writable.
        if (reg === REG_AV_CONF || reg === REG_CTRL1 || reg === REG_CTRL3) this.regs[reg] = v
        else if (reg === REG_CTRL2) {
            this.regs[reg] = v & ~CTRL2_ONE_SHOT
            if ((v & CTRL2_ONE_SHOT) !== 0) this.oneShot()
        }
    }

    /** A conversion runs only in active mode (PD = 1) with ODR = one-shot. */
    private oneShot() {
        const ctrl1 = this.regs[REG_CTRL1]
        if ((ctrl1 & CTRL1_PD) === 0 || (ctrl1 & CTRL1_ODR_MASK) !== 0 || this.neverReady) return
        this.conversions++
        putS16(this.regs, REG_HUMIDITY_OUT_L, this.hOut)
        putS16(this.regs, REG_TEMP_OUT_L, this.tOut)
        this.regs[REG_STATUS] |= STATUS_H_DA | STATUS_T_DA
    }
}
