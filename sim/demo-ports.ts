// `npm start -- --ephemeral-ports`: the demo's emulator on ports the OS picks, for when the configured ones
// are taken (an `npm run emulator` already running, the tests running scenarios side by side).
import { EmulatorConfig, EmulatorPorts } from "./emulator"
import { DeviceSettings } from "./host/device-settings"

/** `config` with every listener (MQTT, HTTPS, service endpoint, each IoT Edge gateway) on port 0. */
export function onEphemeralPorts(config: EmulatorConfig): EmulatorConfig {
    return { ...config, ports: { mqtt: 0, https: 0, service: 0, edge: 0 }, edges: config.edges.map((e) => ({ ...e, port: 0 })) }
}

/** Where the device finds the emulator once it listens: these override DPS_HOST and TIME_HOST of .env.defaults. */
export function endpointSettings(ports: EmulatorPorts): DeviceSettings {
    return { DPS_HOST: `localhost:${ports.mqttPort}`, TIME_HOST: `localhost:${ports.httpsPort}` }
}
