// In-VM: the HTS221 and LPS22HB drivers against register models written from the datasheets
// (sim/sensor-models/), the datasheets' worked examples as vectors, and the fault cases; button A.
import * as ds from "@devicescript/core"
import { describe, expect, test } from "@devicescript/test"
import { yieldBetweenTests } from "./vm-yield"
import { I2cModelBus } from "../../sim/sensor-models/i2c-model-bus"
import { Hts221Factory, Hts221Model } from "../../sim/sensor-models/hts221-model"
import { Lps22hbModel } from "../../sim/sensor-models/lps22hb-model"
import { Hts221 } from "../../src/drivers/hts221"
import { Lps22hb } from "../../src/drivers/lps22hb"
import { boardSensorsStart } from "../../src/board/board-sensors"
import { RoleClimateSensor } from "../../src/board/role-climate-sensor"
import { telemetryBuildBody } from "../../src/app/telemetry"
import { ButtonModel } from "../../sim/sensor-models/button-model"
import { buttonMessagesStart } from "../../src/board/button-messages"
import { DeviceApp } from "../../src/app/device-app"

/** The HTS221 datasheet's conversion examples: 10 °C at 300, 20 °C at 500; 20 %rH at 0, 40 %rH at 10000. */
const DATASHEET_FACTORY: Hts221Factory = { h0rH: 20, h1rH: 40, h0Out: 0, h1Out: 10000, t0degC: 10, t1degC: 20, t0Out: 300, t1Out: 500 }

function milli(x: number): number {
    return Math.round(x * 1000)
}

function busWith(address: number, part: any): I2cModelBus {
    const bus = new I2cModelBus()
    bus.attach(address, part)
    return bus
}

async function errorOf(f: () => Promise<any>): Promise<string> {
    try {
        await f()
    } catch (e) {
        return (e as Error).name + ": " + (e as Error).message
    }
    return "no error"
}

describe("HTS221 driver", () => {
    yieldBetweenTests()
    test("datasheet example: T_OUT 400 -> 15.0 degC, H_OUT 5000 -> 30.0 %rH", async () => {
        const chip = new Hts221Model(DATASHEET_FACTORY)
        chip.setRawOutputs(5000, 400)
        const d = new Hts221(busWith(0x5f, chip))
        await d.init()
        const r = await d.read()
        expect(milli(r.temperature)).toBe(15000)
        expect(milli(r.humidity)).toBe(30000)
    })
    test("configures active mode with block data update and converts one shot per read", async () => {
        const chip = new Hts221Model(DATASHEET_FACTORY)
        const d = new Hts221(busWith(0x5f, chip))
        await d.init()
        expect(chip.regs[0x20] & 0x84).toBe(0x84)
        expect(chip.regs[0x20] & 0x03).toBe(0)
        const before = chip.conversions
        await ds.sleep(600)
        await d.read()
        expect(chip.conversions).toBe(before + 1)
    })
    test("T0/T1 above 31.875 degC use their bits 9:8 in register 0x35", async () => {
        // 32.5 degC = 260/8 (0x104), 36.875 degC = 295/8 (0x127): 0x35 = T1 msb 01 << 2 | T0 msb 01.
        const chip = new Hts221Model({ h0rH: 20, h1rH: 40, h0Out: 0, h1Out: 10000, t0degC: 32.5, t1degC: 36.875, t0Out: -1000, t1Out: 1000 })
        expect(chip.regs[0x35]).toBe(0x05)
        expect(chip.regs[0x32]).toBe(0x04)
        chip.setRawOutputs(5000, 0)
        const d = new Hts221(busWith(0x5f, chip))
        await d.init()
        expect(milli((await d.read()).temperature)).toBe(34688)
    })
    test("negative calibration outputs are signed 16-bit", async () => {
        // A chip like one reported on ST's forum: H0_T0_OUT = -2, H1_T0_OUT = -11728, 16.5 / 36 %rH.
        const chip = new Hts221Model({ h0rH: 16.5, h1rH: 36, h0Out: -2, h1Out: -11728, t0degC: 18, t1degC: 31.5, t0Out: -370, t1Out: 650 })
        chip.setRawOutputs(-5865, 140)
        const d = new Hts221(busWith(0x5f, chip))
        await d.init()
        const r = await d.read()
        expect(milli(r.humidity)).toBe(26250)
        expect(milli(r.temperature)).toBe(24750)
    })
    test("humidity is clamped to 0..100 %rH", async () => {
        // 20 %rH at 0, 40 %rH at 1000: -2000 would be -20 %rH, 5000 would be 120 %rH.
        const chip = new Hts221Model({ h0rH: 20, h1rH: 40, h0Out: 0, h1Out: 1000, t0degC: 10, t1degC: 20, t0Out: 300, t1Out: 500 })
        chip.setRawOutputs(-2000, 400)
        const d = new Hts221(busWith(0x5f, chip))
        await d.init()
        expect((await d.read()).humidity).toBe(0)
        chip.setRawOutputs(5000, 400)
        await ds.sleep(600)
        expect((await d.read()).humidity).toBe(100)
    })
    test("a physical climate reads back within a count", async () => {
        const chip = new Hts221Model({ h0rH: 33.5, h1rH: 72, h0Out: 10, h1Out: 12504, t0degC: 19.875, t1degC: 35.5, t0Out: 65, t1Out: 705 })
        chip.setClimate(23.4, 51.2)
        const d = new Hts221(busWith(0x5f, chip))
        await d.init()
        const r = await d.read()
        expect(Math.abs(r.temperature - 23.4) < 0.03).toBe(true)
        expect(Math.abs(r.humidity - 51.2) < 0.01).toBe(true)
    })
    test("no answer at 0x5F", async () => {
        expect(await errorOf(async () => await new Hts221(new I2cModelBus()).init())).toBe(
            "SensorError: HTS221: no answer at I2C 0x5F (I2C error: no acknowledge from address 95)"
        )
    })
    test("another part at 0x5F is refused by its WHO_AM_I", async () => {
        const chip = new Hts221Model(DATASHEET_FACTORY, 0x6a)
        expect(await errorOf(async () => await new Hts221(busWith(0x5f, chip)).init())).toBe("SensorError: HTS221: WHO_AM_I at I2C 0x5F is 0x6A, expected 0xBC")
    })
    test("data never ready ends in an error, not a hang", async () => {
        const chip = new Hts221Model(DATASHEET_FACTORY)
        chip.neverReady = true
        expect(await errorOf(async () => await new Hts221(busWith(0x5f, chip)).init())).toBe("SensorError: HTS221: data not ready within 500 ms (status 0x00)")
    })
})

describe("LPS22HB driver", () => {
    yieldBetweenTests()
    test("24-bit pressure / 4096 hPa and 16-bit temperature / 100 degC", async () => {
        const chip = new Lps22hbModel()
        chip.setRawOutputs(0x3ff58a, 2150)
        const d = new Lps22hb(busWith(0x5c, chip))
        await d.init()
        const r = await d.read()
        // 0x3FF58A = 4191626 LSB.
        expect(milli(r.pressure)).toBe(milli(4191626 / 4096))
        expect(milli(r.temperature)).toBe(21500)
    })
    test("two's complement: negative temperature and pressure codes", async () => {
        const chip = new Lps22hbModel()
        chip.setRawOutputs(-4096, -1234)
        const d = new Lps22hb(busWith(0x5c, chip))
        await d.init()
        const r = await d.read()
        expect(milli(r.pressure)).toBe(-1000)
        expect(milli(r.temperature)).toBe(-12340)
    })
    test("configures one-shot with block data update, a conversion per read", async () => {
        const chip = new Lps22hbModel()
        chip.setClimate(1013.25, 22.5)
        const d = new Lps22hb(busWith(0x5c, chip))
        await d.init()
        expect(chip.regs[0x10]).toBe(0x02)
        const r = await d.read()
        expect(milli(r.pressure)).toBe(1013250)
        expect(chip.conversions).toBe(2)
    })
    test("no answer, another part (LPS25H's 0xBD), data never ready", async () => {
        expect(await errorOf(async () => await new Lps22hb(new I2cModelBus()).init())).toBe(
            "SensorError: LPS22HB: no answer at I2C 0x5C (I2C error: no acknowledge from address 92)"
        )
        expect(await errorOf(async () => await new Lps22hb(busWith(0x5c, new Lps22hbModel(0xbd))).init())).toBe(
            "SensorError: LPS22HB: WHO_AM_I at I2C 0x5C is 0xBD, expected 0xB1"
        )
        const stuck = new Lps22hbModel()
        stuck.neverReady = true
        expect(await errorOf(async () => await new Lps22hb(busWith(0x5c, stuck)).init())).toBe(
            "SensorError: LPS22HB: data not ready within 500 ms (status 0x00)"
        )
    })
})

describe("board parts through their roles", () => {
    test("a sensor that fails is left out, telemetry carries the others, a failed read keeps the last value; button A queues a message", async () => {
        const bus = new I2cModelBus()
        const hts = new Hts221Model(DATASHEET_FACTORY)
        hts.setRawOutputs(5000, 400)
        const lps = new Lps22hbModel()
        lps.neverReady = true
        bus.attach(0x5f, hts)
        bus.attach(0x5c, lps)
        let buttonA: ButtonModel
        const roles = await boardSensorsStart(bus, () => {
            buttonA = new ButtonModel()
        })
        expect(roles.pressure).toBe(undefined)
        // From now on the HTS221 stops converting: its servers keep the start-up reading, never a made-up 0.
        hts.neverReady = true
        const sensor = new RoleClimateSensor(roles)
        await sensor.waitForRoles(3000)
        const r = await sensor.read()
        expect(r.temperature).toBe(15)
        expect(r.humidity).toBe(30)
        expect(r.pressure).toBe(undefined)
        expect(telemetryBuildBody(r, 7)).toBe('{"temperature":15,"humidity":30,"seq":7}')
        expect(telemetryBuildBody({ temperature: 21.5, humidity: 40, pressure: 1013.25 }, 8)).toBe(
            '{"temperature":21.5,"humidity":40,"pressure":1013.25,"seq":8}'
        )

        const app = new DeviceApp("1.0", 60, sensor)
        const button = buttonMessagesStart(app)
        for (let i = 0; i < 50 && !button.isBound; i++) await ds.sleep(100)
        await buttonA.press(50)
        await ds.sleep(300)
        expect(app.queue.length()).toBe(1)
        expect(app.queue.peek().body).toBe('{"button":"A","seq":1}')
    })
})
