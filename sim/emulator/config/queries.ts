// Questions the faces ask of a configuration.
import { EmulatorConfig, Enrollment, IndividualEnrollment, POLICY_RIGHTS, SharedAccessPolicy } from "./schema"

/** The `iothubowner`-style policy whose key signs requests to the service endpoint. */
export const SERVICE_POLICY = "iothubowner"
/** DPS's service policy (azure-iot-provisioning-service connection strings name it); it uses the same service key. */
export const DPS_SERVICE_POLICY = "provisioningserviceowner"

export function enrollmentId(e: Enrollment): string {
    return e.kind === "individual" ? e.registrationId : e.enrollmentGroupId
}

/**
 * Individual enrollments by lower-cased registration id, per enrollment list: every DPS CONNECT looks
 * one up, and a scan of 10,000 enrollments cost more than the rest of the authentication.
 */
const individualIndex = new WeakMap<Enrollment[], Map<string, IndividualEnrollment>>()

/** The individual enrollment of a registration id (case-insensitive, as in DPS). */
export function individualEnrollment(config: EmulatorConfig, registrationId: string): IndividualEnrollment | undefined {
    let index = individualIndex.get(config.enrollments)
    if (index === undefined) {
        index = new Map()
        for (const e of config.enrollments) {
            if (e.kind !== "individual") continue
            const id = e.registrationId.toLowerCase()
            // The first of two with one id wins, as a search from the front would find it.
            if (!index.has(id)) index.set(id, e)
        }
        individualIndex.set(config.enrollments, index)
    }
    return index.get(registrationId.toLowerCase())
}

/** Says that `config.enrollments` was edited in place (added, replaced or removed): the next lookup indexes it again. */
export function enrollmentsEdited(config: EmulatorConfig): void {
    individualIndex.delete(config.enrollments)
}

/**
 * The shared access policies of a hub: those configured, and `iothubowner` with the service key and
 * every right (IoT Hub creates it with each hub) unless the hub configures its own.
 */
export function hubPolicies(config: EmulatorConfig, hubHostName: string): SharedAccessPolicy[] {
    const hub = config.hubs.find((h) => h.hostName.toLowerCase() === hubHostName.toLowerCase())
    const own = hub?.authorizationPolicies ?? []
    if (!config.service.primaryKey || own.some((p) => p.keyName === SERVICE_POLICY)) return own
    return [...own, { keyName: SERVICE_POLICY, rights: [...POLICY_RIGHTS], ...config.service }]
}
