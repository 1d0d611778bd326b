// One enrollment from the service API, checked by the very rules the config file's enrollments go
// through: the API's enrollments are no less valid than the file's.
import { ConfigFiles } from "./certificates"
import { EmulatorConfig, Enrollment } from "./schema"
import { ConfigError, parseConfig } from "./validate"

/** An API caller sends certificates themselves: a path would make the emulator read a file the caller names. */
const PEM_ONLY: ConfigFiles = {
    resolve: (v) => v,
    read(v) {
        if (!v.includes("-----BEGIN")) throw new Error("certificates must be PEM text")
        return v
    },
}

/** `raw` as the config file writes an enrollment, checked against `config`'s DPS settings and hubs. */
export function validateEnrollment(config: EmulatorConfig, raw: unknown): Enrollment {
    const shell = {
        bind: config.bind,
        ports: config.ports,
        tls: { cert: config.tls.cert, key: config.tls.key },
        dps: config.dps,
        hubs: config.hubs.map((h) => ({ hostName: h.hostName, applyAllocationPolicy: h.applyAllocationPolicy, latencyMs: h.latencyMs })),
        enrollments: [raw],
    }
    try {
        return parseConfig(shell, PEM_ONLY).enrollments[0]
    } catch (e) {
        throw e instanceof ConfigError ? new ConfigError(e.message.replaceAll("enrollments[0]", "enrollment")) : e
    }
}
