// The emulator: one in-memory state with faces on top (DPS over MQTT, the time endpoint).
// Events (see events.ts) report every step; none carries a key or token.
import { EventEmitter } from "events"
import * as fs from "fs"
import { EmulatorConfig, enrollmentsWithoutKeys } from "./config"
import { DpsFace } from "./dps-face"
import { EmulatorEventName, EmulatorEvents } from "./events"
import { DPS_LIMITS, MqttConnection } from "./mqtt-connection"
import { EmulatorState, RegistrationRecord } from "./state"
import { startTimeEndpoint } from "./time-endpoint"
import { startTlsListener, TlsListener, TlsMaterial } from "./tls-listener"

export * from "./config"
export * from "./events"
export type { RegistrationRecord } from "./state"
export { sasBuildToken, sasDeriveDeviceKey } from "./sas"

export interface EmulatorPorts {
    mqttPort: number
    httpsPort: number
}

function readPem(value: string, what: string): string {
    if (value.includes("-----BEGIN")) return value
    try {
        return fs.readFileSync(value, "utf8")
    } catch {
        throw new Error(`${what} not found at ${value}; npm install generates the test PKI (sim/pki)`)
    }
}

export interface Emulator {
    on<K extends EmulatorEventName>(name: K, listener: (data: EmulatorEvents[K]) => void): this
    once<K extends EmulatorEventName>(name: K, listener: (data: EmulatorEvents[K]) => void): this
    off<K extends EmulatorEventName>(name: K, listener: (data: EmulatorEvents[K]) => void): this
    on(name: "event", listener: <K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]) => void): this
}

export class Emulator extends EventEmitter {
    readonly state = new EmulatorState()
    private servers: TlsListener[] = []

    constructor(readonly config: EmulatorConfig) {
        super()
        const missing = enrollmentsWithoutKeys(config)
        if (missing.length) throw new Error(`enrollments without keys: ${missing.join(", ")} (see generateMissingKeys)`)
    }

    /** Emits a typed event (the faces' reporting path), and `event` (name, data) for loggers that take every one. */
    report<K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]): void {
        this.emit(name, data)
        this.emit("event", name, data)
    }

    registration(registrationId: string): RegistrationRecord | undefined {
        return this.state.registration(registrationId)
    }

    async start(): Promise<EmulatorPorts> {
        const material: TlsMaterial = {
            cert: readPem(this.config.tls.cert, "TLS server certificate"),
            key: readPem(this.config.tls.key, "TLS server key"),
        }
        const emit = this.report.bind(this)
        const dps = new DpsFace(this.config, this.state, emit)
        const tlsError = (face: string) => (remote: string, reason: string) => emit("connection.error", { face, remote, reason })
        try {
            const mqtt = await startTlsListener(
                material,
                this.config.bind,
                this.config.ports.mqtt,
                (sock, wire) => dps.attach(new MqttConnection(sock, DPS_LIMITS, wire)),
                tlsError("dps")
            )
            this.servers.push(mqtt)
            const time = await startTimeEndpoint(
                material,
                this.config.bind,
                this.config.ports.https,
                (remote, method) => emit("time.request", { remote, method }),
                tlsError("time")
            )
            this.servers.push(time)
            return { mqttPort: mqtt.port, httpsPort: time.port }
        } catch (e) {
            await this.stop()
            throw e
        }
    }

    /** Closes the listeners and every open connection. */
    async stop(): Promise<void> {
        const open = this.servers
        this.servers = []
        await Promise.all(open.map((l) => l.close()))
    }
}
