// DPS enrollments as tests write them (random keys) and a whole provisioning over the raw client.
// Emulators come from test/support/emulator.ts, the raw client from test/support/raw-mqtt-client.ts.
import { ClientCert, DpsAnswer, DpsConnectOptions, RawClient } from "../support/raw-mqtt-client"
import { GroupEnrollmentInput, IndividualEnrollmentInput, randomKey } from "../support/emulator"

/** A symmetric-key individual enrollment with random keys; `extra`: more of its settings. */
// biome-ignore lint/complexity/noBannedTypes: {} is "no extra settings" and keeps the literal types of those given
export function individual<E extends Partial<IndividualEnrollmentInput> = {}>(registrationId: string, extra: E = {} as E) {
    const attestation = { type: "symmetricKey" as const, primaryKey: randomKey(), secondaryKey: randomKey() }
    return { registrationId, attestation, ...extra }
}

/** A symmetric-key enrollment group with random keys; `extra`: more of its settings. */
// biome-ignore lint/complexity/noBannedTypes: {} is "no extra settings" and keeps the literal types of those given
export function group<E extends Partial<GroupEnrollmentInput> = {}>(enrollmentGroupId: string, extra: E = {} as E) {
    const attestation = { type: "symmetricKey" as const, primaryKey: randomKey(), secondaryKey: randomKey() }
    return { enrollmentGroupId, attestation, ...extra }
}

/** Connect (presenting `clientCert` if given), subscribe, register, poll until a final answer; every answer in order. */
export async function provision(port: number, ca: string, o: DpsConnectOptions, payload?: unknown, clientCert?: ClientCert): Promise<DpsAnswer[]> {
    const c = await RawClient.open(port, ca, "localhost", clientCert)
    try {
        const code = await c.connect(o)
        if (code !== 0) throw new Error(`CONNACK ${code}`)
        await c.subscribe()
        const answers = [await c.register("1", { registrationId: o.registrationId, payload })]
        for (let i = 0; i < 10 && answers[answers.length - 1].status === 202; i++)
            answers.push(await c.poll(String(i + 2), answers[answers.length - 1].body.operationId))
        return answers
    } finally {
        c.close()
    }
}
