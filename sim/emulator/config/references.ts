// The cross-references between settings, explicit code the schema runs even when other settings
// are wrong (so every problem is named at once): ids used once, hubs that exist, a webhook exactly
// for the enrollments whose policy (their own or DPS's default) is custom, edge gateways that are
// devices, and children whose parent is a gateway of their hub. It reads only the names it
// compares, each leniently: a name that cannot be read (the schema names that problem) reads as
// undefined and is left out, so the others keep their index and nothing is reported twice.
import { z } from "zod"

const maybe = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined)
const name = maybe(z.string())
const entries = <T extends z.core.$ZodLooseShape>(shape: T) => z.array(maybe(z.looseObject(shape))).catch([])
const view = z.object({
    dps: maybe(z.looseObject({ allocationPolicy: name })),
    hubs: entries({ hostName: name }),
    certificates: entries({ name }),
    enrollments: entries({
        registrationId: name,
        enrollmentGroupId: name,
        iotHubHostName: name,
        iotHubs: maybe(z.array(z.string())),
        allocationPolicy: name,
        customAllocationDefinition: z.unknown().optional(),
    }),
    devices: entries({ deviceId: name, hub: name, parent: name }),
    edges: entries({ deviceId: name, hub: name }),
})

export function checkReferences(value: unknown, ctx: z.RefinementCtx): void {
    const parsed = view.safeParse(value)
    if (!parsed.success) return
    const { dps, hubs, certificates, enrollments, devices, edges } = parsed.data
    const problem = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", message, path })
    const hubNames = hubs.flatMap((h) => (h?.hostName ? [h.hostName.toLowerCase()] : []))
    const isHub = (h: string) => hubNames.includes(h.toLowerCase())

    const usedTwice = (ids: (string | undefined)[], where: string, what: string) => {
        const seen = new Set<string>()
        ids.forEach((id, i) => {
            if (id === undefined) return
            if (seen.has(id.toLowerCase())) problem([where, i], `${what} ${id} is used twice`)
            seen.add(id.toLowerCase())
        })
    }
    usedTwice(
        certificates.map((c) => c?.name),
        "certificates",
        "name"
    )
    usedTwice(
        enrollments.map((e) => e?.registrationId ?? e?.enrollmentGroupId),
        "enrollments",
        "id"
    )
    enrollments.forEach((e, i) => {
        if (e?.iotHubHostName !== undefined && !isHub(e.iotHubHostName)) problem(["enrollments", i, "iotHubHostName"], "must be one of hubs")
        if (e?.iotHubs?.some((h) => !isHub(h))) problem(["enrollments", i, "iotHubs"], "must list some of hubs")
        if (!e) return
        // As `complete` fills it in: naming a hub makes an enrollment static, else DPS's default applies.
        const policy = e.allocationPolicy ?? (e.iotHubHostName !== undefined ? "static" : (dps?.allocationPolicy ?? "hashed"))
        const webhook = e.customAllocationDefinition !== undefined
        if (policy === "custom" && !webhook)
            problem(["enrollments", i, "customAllocationDefinition", "webhookUrl"], "must be an http(s) URL on a loopback host")
        if (policy !== "custom" && webhook) problem(["enrollments", i, "customAllocationDefinition"], "is for allocationPolicy custom")
    })
    devices.forEach((d, i) => {
        if (d?.hub !== undefined && !isHub(d.hub)) problem(["devices", i, "hub"], "must be one of hubs")
    })
    // Hubs as `complete` fills them in: a device's defaults to the first hub, an edge's to its identity's.
    const hubOf = (d: (typeof devices)[number]) => d?.hub ?? hubs[0]?.hostName
    const identityOf = (deviceId: string) => devices.find((d) => d?.deviceId === deviceId)
    const edgeHub = (e: (typeof edges)[number]) => e?.hub ?? (e?.deviceId === undefined ? undefined : hubOf(identityOf(e.deviceId)))
    edges.forEach((e, i) => {
        if (e?.deviceId === undefined) return
        const identity = identityOf(e.deviceId)
        if (!identity) problem(["edges", i, "deviceId"], "must name one of devices (the edge device's identity)")
        else if (edgeHub(e) !== hubOf(identity)) problem(["edges", i, "hub"], "must be the hub of its identity in devices")
    })
    devices.forEach((d, i) => {
        if (d?.parent === undefined) return
        const edge = edges.find((e) => e?.deviceId === d.parent)
        if (!edge) problem(["devices", i, "parent"], "must name one of edges")
        else if (edgeHub(edge) !== hubOf(d)) problem(["devices", i, "parent"], "is an edge device of another hub")
    })
}
