// The one I2C primitive the sensor drivers use: a write, then an optional read, as one
// transaction. On a board it is @devicescript/i2c's `i2c` (same signature); the simulator's VM has
// no I2C, so tests and `npm start -- --board` give the drivers register models instead.
import * as ds from "@devicescript/core"
import { FirmwareError } from "../errors"

export interface I2cBus {
    xfer(devAddr: number, writeBuf: Buffer, numRead?: number): Promise<Buffer>
}

/** A sensor that cannot be used: absent, not the expected part, or not converting. */
export class SensorError extends FirmwareError {
    constructor(message: string) {
        super("SensorError", message)
    }
}

const POLL_MS = 10

export function hex2(n: number): string {
    const digits = "0123456789ABCDEF"
    return "0x" + digits[(n >> 4) & 15] + digits[n & 15]
}

/** A register read; a bus error (no acknowledge, timeout) becomes a SensorError naming the part. */
export async function i2cReadRegs(bus: I2cBus, part: string, addr: number, reg: number, size: number): Promise<Buffer> {
    try {
        return await bus.xfer(addr, Buffer.from([reg]), size)
    } catch (e) {
        throw new SensorError(part + ": no answer at I2C " + hex2(addr) + " (" + (e as Error).message + ")")
    }
}

export async function i2cWriteReg(bus: I2cBus, part: string, addr: number, reg: number, value: number) {
    try {
        await bus.xfer(addr, Buffer.from([reg, value]))
    } catch (e) {
        throw new SensorError(part + ": no answer at I2C " + hex2(addr) + " (" + (e as Error).message + ")")
    }
}

/** Checks the WHO_AM_I register, so another part at the address is not misread as this one. */
export async function i2cCheckIdentity(bus: I2cBus, part: string, addr: number, reg: number, expected: number) {
    const id = (await i2cReadRegs(bus, part, addr, reg, 1))[0]
    if (id !== expected) throw new SensorError(part + ": WHO_AM_I at I2C " + hex2(addr) + " is " + hex2(id) + ", expected " + hex2(expected))
}

/** Polls a status register until every bit of `mask` is set; a conversion that never ends is an error, not a hang. */
export async function i2cWaitForBits(bus: I2cBus, part: string, addr: number, reg: number, mask: number, timeoutMs: number) {
    const end = ds.millis() + timeoutMs
    for (;;) {
        const status = (await i2cReadRegs(bus, part, addr, reg, 1))[0]
        if ((status & mask) === mask) return
        if (ds.millis() >= end) throw new SensorError(part + ": data not ready within " + timeoutMs + " ms (status " + hex2(status) + ")")
        await ds.sleep(POLL_MS)
    }
}

/** 16-bit two's complement from two bytes, low first (ST's *_OUT_L / *_OUT_H order). */
export function int16le(b: Buffer, at: number): number {
    const v = b[at] | (b[at + 1] << 8)
    return v >= 0x8000 ? v - 0x10000 : v
}
