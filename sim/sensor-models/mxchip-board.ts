// DeviceScript code: the MXChip-like board's parts for the simulator (`npm start -- --board
// mxchip_s3`): an HTS221 and an LPS22HB register model on one bus, with a room's slow drift, and
// button A pressed 5 s after boot, then once a minute. Imported before src/main.ts, so the real drivers run on them.
import { peripheralsUseBus } from "../../src/board/peripherals"
import { I2cModelBus } from "./i2c-model-bus"
import { Hts221Model } from "./hts221-model"
import { Lps22hbModel } from "./lps22hb-model"
import { ButtonModel } from "./button-model"

const DRIFT_STEP_MS = 2000
const FIRST_PRESS_MS = 5000
const PRESS_EVERY_MS = 60000

const bus = new I2cModelBus()
// A plausible chip's factory calibration: outputs of either sign, T1 above 31.875 °C (MSB bits in use).
const hts = new Hts221Model({ h0rH: 33.5, h1rH: 72, h0Out: -3, h1Out: -11720, t0degC: 19.875, t1degC: 35.5, t0Out: 65, t1Out: 705 })
const lps = new Lps22hbModel()
bus.attach(0x5f, hts)
bus.attach(0x5c, lps)
let buttonA: ButtonModel

let step = 0
function drift() {
    const phase = (step % 90) / 90
    const wave = phase < 0.5 ? phase * 4 - 1 : 3 - phase * 4
    hts.setClimate(22 + 1.5 * wave, 48 - 6 * wave)
    lps.setClimate(1012.5 + 1.2 * wave, 24 + 1.5 * wave)
    step++
}
drift()
setInterval(drift, DRIFT_STEP_MS)
setTimeout(async () => {
    if (!buttonA) return
    await buttonA.press(120)
    setInterval(async () => {
        await buttonA.press(120)
    }, PRESS_EVERY_MS)
}, FIRST_PRESS_MS)
peripheralsUseBus(bus, () => {
    buttonA = new ButtonModel()
})
console.log(
    "board: simulated mxchip_s3 (HTS221 and LPS22HB register models, button A pressed after " +
        FIRST_PRESS_MS / 1000 +
        " s, then every " +
        PRESS_EVERY_MS / 1000 +
        " s)"
)
