// DeviceScript code: an I2C bus of register models, for the drivers in the simulator's VM (which
// has no I2C). A transaction to an address nobody answers fails like a NACK on a real bus.
import * as ds from "@devicescript/core"

/** A part on the bus: one transaction = the bytes written, then `numRead` bytes read back. */
export interface I2cModelDevice {
    transfer(written: Buffer, numRead: number): Buffer
}

interface Attached {
    address: number
    device: I2cModelDevice
}

export class I2cModelBus {
    private readonly parts: Attached[] = []
    transactions = 0

    attach(address: number, device: I2cModelDevice) {
        this.parts.push({ address, device })
    }

    async xfer(devAddr: number, writeBuf: Buffer, numRead?: number): Promise<Buffer> {
        // A real transaction takes bus time; the drivers must cope with yielding here.
        await ds.sleep(0)
        this.transactions++
        for (const p of this.parts) if (p.address === devAddr) return p.device.transfer(writeBuf, numRead || 0)
        throw new Error("I2C error: no acknowledge from address " + devAddr)
    }
}
