// Questions the faces ask of a configuration.
import { EmulatorConfig, Enrollment, IndividualEnrollment, POLICY_RIGHTS, SharedAccessPolicy } from "./schema"

/** The `iothubowner`-style policy whose key signs requests to the service endpoint. */
export const SERVICE_POLICY = "iothubowner"
/** DPS's service policy (azure-iot-provisioning-service connection strings name it); it uses the same service key. */
export const DPS_SERVICE_POLICY = "provisioningserviceowner"

export function enrollmentId(e: Enrollment): string {
    return e.kind === "individual" ? e.registrationId : e.enrollmentGroupId
}

/** The individual enrollment of a registration id (case-insensitive, as in DPS). */
export function individualEnrollment(config: EmulatorConfig, registrationId: string): IndividualEnrollment | undefined {
    const id = registrationId.toLowerCase()
    return config.enrollments.find((e): e is IndividualEnrollment => e.kind === "individual" && e.registrationId.toLowerCase() === id)
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
