// Named errors the firmware's loops branch on. DeviceScript's Error subclasses
// cannot pass the message to super(), so it is set here once.
export class FirmwareError extends Error {
    constructor(name: string, message: string) {
        super()
        this.name = name
        this.message = message
    }
}

/** A setting is missing or invalid: the only error that stops the program (the message names the setting). */
export class ConfigError extends FirmwareError {
    constructor(message: string) {
        super("ConfigError", message)
    }
}
