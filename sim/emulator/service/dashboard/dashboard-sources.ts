// What the dashboard shows beyond the service endpoint's own routes, read from a running emulator:
// its hubs, IoT Edge gateways (uplink switch, stored messages, children), DPS enrollments (never
// their keys) and registrations, and its events to follow live.
import type { Emulator } from "../../index"
import { EmulatorEventName, EmulatorEvents } from "../../events"

export interface EdgeView {
    edgeId: string
    hub: string
    /** The host name leaves connect to. */
    hostName: string
    uplinkUp: boolean
    /** Leaves' messages kept while the uplink is down. */
    storedMessages: number
    children: string[]
}

/** An enrollment as the dashboard lists it: how it attests and allocates, no key or certificate. */
export interface EnrollmentView {
    kind: "individual" | "group"
    id: string
    deviceId?: string
    attestation: string
    allocationPolicy: string
    iotHubHostName: string
    enabled: boolean
}

export interface RegistrationView {
    registrationId: string
    enrollmentId: string
    enrollmentKind: "individual" | "group"
    attestationType: string
    status: string
    deviceId?: string
    assignedHub?: string
    substatus?: string
    errorMessage?: string
    lastUpdatedDateTimeUtc: string
}

export type EventListener = <K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]) => void

export interface DashboardSources {
    hubs(): string[]
    edges(): EdgeView[]
    enrollments(): EnrollmentView[]
    registrations(): RegistrationView[]
    /** Calls `listener` with every event from now on; returns the function that stops it. */
    follow(listener: EventListener): () => void
}

export function dashboardSources(emulator: Emulator): DashboardSources {
    // One listener on the emulator however many pages follow (no MaxListeners warning with many tabs).
    const followers = new Set<EventListener>()
    const fanOut: EventListener = (name, data) => {
        for (const f of followers) f(name, data)
    }
    return {
        hubs: () => emulator.config.hubs.map((h) => h.hostName),
        edges: () => {
            const devices = emulator.service.listDevices()
            return [...emulator.edges.values()].map((e) => ({
                edgeId: e.edgeId,
                hub: e.edge.hub,
                hostName: e.edge.hostName,
                uplinkUp: e.uplinkUp,
                storedMessages: e.storedMessages,
                children: devices.filter((d) => d.parent === e.edgeId).map((d) => d.deviceId),
            }))
        },
        enrollments: () =>
            emulator.config.enrollments.map((e) => ({
                kind: e.kind,
                id: e.kind === "individual" ? e.registrationId : e.enrollmentGroupId,
                deviceId: e.kind === "individual" ? e.deviceId : undefined,
                attestation: e.attestation.type,
                allocationPolicy: e.allocationPolicy,
                iotHubHostName: e.iotHubHostName,
                enabled: e.enabled,
            })),
        registrations: () =>
            emulator.state.registrations().map((r) => ({
                registrationId: r.registrationId,
                enrollmentId: r.enrollmentId,
                enrollmentKind: r.enrollmentGroupId === undefined ? "individual" : "group",
                attestationType: r.attestationType,
                status: r.status,
                deviceId: r.deviceId,
                assignedHub: r.assignedHub,
                substatus: r.substatus,
                errorMessage: r.errorMessage,
                lastUpdatedDateTimeUtc: r.lastUpdatedDateTimeUtc,
            })),
        follow: (listener) => {
            if (followers.size === 0) emulator.on("event", fanOut)
            followers.add(listener)
            return () => {
                followers.delete(listener)
                if (followers.size === 0) emulator.removeListener("event", fanOut)
            }
        },
    }
}
