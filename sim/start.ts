// `npm start`: the emulator with its default configuration and the firmware image
// booted in the simulator host, with both sides' progress on one console.
import * as fs from "fs"
import { Emulator, describeEvent, generateMissingKeys, loadConfig } from "./emulator"
import { SimulatedDevice } from "./host/device"
import { loadImage } from "./host/image"
import { EMULATOR_CONFIG, EMULATOR_ROOT_CA, EMULATOR_SECRETS, ENV_DEFAULTS, ENV_LOCAL, FIRMWARE_IMAGE } from "./paths"
import { setup } from "./setup"

const STEP_TIMEOUT_MS = 60000

function say(who: "emulator" | "device" | "demo", line: string) {
    console.log(`${who.padEnd(8)} │ ${line}`)
}

/** Resolves with the first line matching `ok`; rejects with the device's own words on `fatal:`. */
async function expectLine(device: SimulatedDevice, ok: RegExp, what: string): Promise<RegExpMatchArray> {
    const m = await device.waitForConsole(new RegExp(`${ok.source}|^fatal: (.*)`), STEP_TIMEOUT_MS).catch((e: Error) => {
        throw new Error(`no ${what} within ${STEP_TIMEOUT_MS / 1000} s\n${e.message}`)
    })
    if (m[0].startsWith("fatal: ")) throw new Error(m[0].slice("fatal: ".length))
    return m
}

async function main() {
    if (!fs.existsSync(FIRMWARE_IMAGE) || !fs.existsSync(EMULATOR_ROOT_CA) || !fs.existsSync(ENV_LOCAL)) await setup(false)
    const config = generateMissingKeys(loadConfig(EMULATOR_CONFIG, EMULATOR_SECRETS), EMULATOR_SECRETS)
    const emulator = new Emulator(config)
    emulator.on("event", (name, data) => say("emulator", describeEvent(name, data)))
    const ports = await emulator.start().catch((e: Error) => {
        throw new Error(`emulator could not start (${e.message}); is another one running on ports ${config.ports.mqtt}/${config.ports.https}?`)
    })
    say("emulator", `DPS and hub on mqtts://localhost:${ports.mqttPort}, time on https://localhost:${ports.httpsPort}, ID scope ${config.dps.idScope}`)

    const image = loadImage({ bytecodeFile: FIRMWARE_IMAGE, envFiles: [ENV_DEFAULTS, ENV_LOCAL], trustAnchorFiles: [EMULATOR_ROOT_CA] })
    say("demo", `booting the firmware (${image.bytecode.length} bytes of bytecode; trusts ${image.trustAnchors.length} CA certificate(s))`)
    const device = new SimulatedDevice(image)
    device.on("console", (line) => say("device", line))
    try {
        await device.boot()
        const assigned = await expectLine(device, /^dps: assigned to (\S+) as (\S+)/, "DPS assignment")
        say("demo", `provisioned: hub ${assigned[1]}, device id ${assigned[2]}`)
    } finally {
        await device.stop()
        await emulator.stop()
    }
}

main().then(
    () => process.exit(0),
    (e: Error) => {
        console.error(`error: ${e.message}`)
        process.exit(1)
    }
)
