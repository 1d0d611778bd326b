// The firmware mutants `npm run mutate:firmware` plants, one at a time: realistic one-line bugs,
// each with the test files that must catch it. Mocha (not Stryker) runs them: Stryker cannot
// compile DeviceScript. `env` narrows a suite of side-by-side cases to the one that matters.
export interface FirmwareMutant {
    name: string
    file: string
    from: string
    to: string
    tests: string[]
    /** Only the mocha tests whose title matches (e.g. one in-VM suite of device-suites.test.ts). */
    grep?: string
    env?: Record<string, string>
}

const CLIENT = "test/firmware/mqtt-client.test.ts"
const SUITES = "test/firmware/device-suites.test.ts"
const HOSTILE = "test/hostile/hostile-peer.test.ts"

export const FIRMWARE_MUTANTS: FirmwareMutant[] = [
    {
        name: "telemetry acknowledged to the app before its PUBACK",
        file: "src/hub/hub-session.ts",
        from: "await this.mqtt.publish(hubGetTelemetryTopic(this.o.deviceId, telemetryProperties(m)), Buffer.from(m.body), 1)\n            q.ack()",
        to: "q.ack()\n            await this.mqtt.publish(hubGetTelemetryTopic(this.o.deviceId, telemetryProperties(m)), Buffer.from(m.body), 1)",
        tests: [HOSTILE],
        env: { HOSTILE_ONLY: "PUBACK never came" },
    },
    {
        name: "PUBACK recorded for any id while something is in flight",
        file: "src/mqtt/client.ts",
        from: "if (inFlight.indexOf(id) >= 0 && answered.indexOf(id) < 0) {",
        to: "if (inFlight.length > 0 && answered.indexOf(id) < 0) {",
        tests: [CLIENT],
    },
    {
        name: "a publish completed by whichever PUBACK came",
        file: "src/mqtt/client.ts",
        from: 'await this.waitFor(() => listRemove(self.acked, id), this.opts.ackTimeoutMs, "PUBACK")',
        to: 'await this.waitFor(() => self.acked.pop() !== undefined, this.opts.ackTimeoutMs, "PUBACK")',
        tests: [CLIENT],
    },
    {
        name: "packet ids wrap to 0",
        file: "src/mqtt/client.ts",
        from: "return id >= 65535 ? 1 : id + 1",
        to: "return id >= 65535 ? 0 : id + 1",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "packet ids start at 0",
        file: "src/mqtt/client.ts",
        from: "this.nextId = mqttNextPacketId(this.nextId)\n        return this.nextId",
        to: "const id = this.nextId\n        this.nextId = mqttNextPacketId(this.nextId)\n        return id",
        tests: [CLIENT],
    },
    {
        name: "PINGREQ only after two keepalive periods",
        file: "src/mqtt/client.ts",
        from: "return nowMs - lastSendMs >= periodMs ? KEEPALIVE_PING : KEEPALIVE_WAIT",
        to: "return nowMs - lastSendMs >= 2 * periodMs ? KEEPALIVE_PING : KEEPALIVE_WAIT",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "PINGREQ at every tick",
        file: "src/mqtt/client.ts",
        from: "return nowMs - lastSendMs >= periodMs ? KEEPALIVE_PING : KEEPALIVE_WAIT",
        to: "return KEEPALIVE_PING",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "an unanswered PINGREQ never ends the link",
        file: "src/mqtt/client.ts",
        from: "return nowMs - pingSentMs > ackTimeoutMs ? KEEPALIVE_DEAD : KEEPALIVE_WAIT",
        to: "return KEEPALIVE_WAIT",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "a stored assignment from another scope reused",
        file: "src/store/assignment-store.ts",
        from: "|| own !== owner) {",
        to: ") {",
        tests: ["test/e2e/hub-session.test.ts"],
    },
    {
        name: "a stored assignment read before the save still writing it",
        file: "src/store/assignment-store.ts",
        from: "    await saveSettled(lastSave)\n    const [hub, dev, own]",
        to: "    const [hub, dev, own]",
        tests: [SUITES],
        grep: "settings suite",
    },
    {
        name: "a forget overtaken by the save still writing",
        file: "src/store/assignment-store.ts",
        from: "async function clear() {\n    await saveSettled(lastSave)\n",
        to: "async function clear() {\n",
        tests: [SUITES],
        grep: "settings suite",
    },
    {
        name: "a read ahead left unused taken by the save's read-back",
        file: "src/store/assignment-store.ts",
        from: "            if (dropReadAhead) await settingsReadMany(KEYS)\n",
        to: "",
        tests: [SUITES],
        grep: "settings suite",
    },
    {
        name: "the SAS token renewed at 100 % of its life",
        file: "src/hub/hub-session.ts",
        from: "const RENEW_AT = 0.8",
        to: "const RENEW_AT = 1.0",
        tests: [SUITES],
        grep: "hub suite",
    },
    {
        name: "a DPS answer with another request's $rid accepted",
        file: "src/dps/provisioning-client.ts",
        from: "if (resp === null || resp.rid !== rid) continue",
        to: "if (resp === null) continue",
        tests: [HOSTILE],
        env: { HOSTILE_ONLY: "another request's \\$rid" },
    },
    {
        name: "DPS 500 treated as a refusal",
        file: "src/dps/provisioning-policy.ts",
        from: "if (s === 429 || s >= 500) {",
        to: "if (s === 429 || s > 500) {",
        tests: [SUITES],
        grep: "dps suite",
    },
    {
        name: "DPS 499 retried as a server error",
        file: "src/dps/provisioning-policy.ts",
        from: "if (s === 429 || s >= 500) {",
        to: "if (s === 429 || s >= 499) {",
        tests: [SUITES],
        grep: "dps suite",
    },
    {
        name: "the packet-size limit ignores the fixed header",
        file: "src/mqtt/frame-reader.ts",
        from: "const oversized = total > this.maxPacketSize",
        to: "const oversized = len > this.maxPacketSize",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "a PUBLISH buffered though the inbox has no room for it",
        file: "src/mqtt/frame-reader.ts",
        from: "if (oversized || (publish && len > publishRoom)) {",
        to: "if (oversized) {",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "packets other than PUBLISH buffered up to the packet limit",
        file: "src/mqtt/frame-reader.ts",
        from: " || (!publish && total > CONTROL_MAX)",
        to: "",
        tests: [SUITES],
        grep: "mqtt-codec suite",
    },
    {
        name: "the bytes before a document scanned as part of it",
        file: "src/encoding/json-bounds.ts",
        from: "for (let i = start; i < data.length; i++) {",
        to: "for (let i = 0; i < data.length; i++) {",
        tests: [SUITES],
        grep: "encoding suite",
    },
    {
        name: "the bytes before a document parsed as JSON",
        file: "src/encoding/json-bounds.ts",
        from: "data.fillAt(0, start, 32)",
        to: "data.fillAt(0, 0, 32)",
        tests: [SUITES],
        grep: "encoding suite",
    },
]
