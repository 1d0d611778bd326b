// End-to-end plumbing: the real firmware image booted in the simulator host against
// an emulator on ephemeral ports, with the emulator's root CA as the image's only trust anchor.
import { buildFirmware } from "../../sim/host/build"
import { SimulatedDevice } from "../../sim/host/device"
import { FirmwareImage } from "../../sim/host/image"
import { DeviceSettings } from "../../sim/host/device-settings"
import { FIRMWARE_ENTRY, FIRMWARE_IMAGE } from "../../sim/paths"
import { ID_SCOPE, RunningEmulator } from "../support/emulator"
import { ClientCert } from "../support/raw-mqtt-client"
import * as fs from "fs"
import { until as waitUntil } from "../../sim/wait"

export async function firmwareBytecode(): Promise<Buffer> {
    const { outFile } = await buildFirmware(FIRMWARE_ENTRY, FIRMWARE_IMAGE)
    return fs.readFileSync(outFile)
}

export interface BootedDevice {
    device: SimulatedDevice
    /** Resolves with the first console line matching `re`; rejects on timeout with the last lines. */
    line(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
    stop(): Promise<void>
}

export interface BootOptions {
    flashFile?: string
    trustAnchors?: string[]
    /** An X.509 device's certificate chain and key, presented in its TLS handshakes. */
    clientIdentity?: ClientCert
    onConsole?: (line: string) => void
    /** Another build than the firmware's (e.g. a simulated board's entry). */
    bytecode?: Buffer
}

/** Boots the firmware with settings pointing at the emulator; `settings` adds REG_ID and a key. */
export async function bootDevice(emu: RunningEmulator, settings: DeviceSettings, opts: BootOptions = {}): Promise<BootedDevice> {
    const image: FirmwareImage = {
        bytecode: opts.bytecode ?? (await firmwareBytecode()),
        settings: {
            ID_SCOPE,
            DPS_HOST: `localhost:${emu.mqttPort}`,
            TIME_HOST: `localhost:${emu.httpsPort}`,
            ...settings,
        },
        trustAnchors: opts.trustAnchors ?? [emu.ca],
        clientIdentity: opts.clientIdentity,
    }
    const device = new SimulatedDevice(image, { flashFile: opts.flashFile })
    if (opts.onConsole) device.on("console", opts.onConsole)
    await device.boot()
    return {
        device,
        line: (re, timeoutMs = 20000) => device.waitForConsole(re, timeoutMs),
        stop: () => device.stop(),
    }
}

export interface ProvisioningOutcome {
    hub?: string
    deviceId?: string
    /** A definitive refusal: the device waits long (REFUSED_RETRY, growing) and asks again. */
    refused?: string
    /** A transport or server failure: the device backs off and retries. */
    retrying?: string
    /** A configuration error, the one thing that stops the device. */
    fatal?: string
}

/** The first outcome of provisioning as the device reports it. */
export async function provisioningOutcome(d: BootedDevice, timeoutMs = 20000): Promise<ProvisioningOutcome> {
    const m = await d.line(/^dps: assigned to (\S+) as (\S+)$|^dps: (.*); asking again in |^dps: (.*); retrying in |^fatal: (.*)/, timeoutMs)
    if (m[3] !== undefined) return { refused: m[3] }
    if (m[4] !== undefined) return { retrying: m[4] }
    if (m[5] !== undefined) return { fatal: m[5] }
    return { hub: m[1], deviceId: m[2] }
}

/** `until` with the end-to-end tests' default patience. */
export function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 15000): Promise<T> {
    return waitUntil(what, f, timeoutMs)
}
