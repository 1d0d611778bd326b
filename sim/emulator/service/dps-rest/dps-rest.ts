// DPS's service REST API (api-version 2021-10-01, what azure-iot-provisioning-service sends):
// individual enrollments (`/enrollments/{id}`), enrollment groups (`/enrollmentGroups/{id}`), their
// attestation mechanisms (the keys), queries, and device registration states (`/registrations/{id}`).
// PUT creates or replaces (If-Match, when given, must match the ETag), DELETE takes If-Match too.
// Errors as DPS writes them: `{"errorCode", "trackingId", "message", "timestampUtc"}`.
import { randomUUID } from "crypto"
import { ConfigError, DPS_SERVICE_POLICY, EmulatorConfig, Enrollment, enrollmentId, validateEnrollment } from "../../config"
import { Emit } from "../../events"
import { EnrollmentKind, EnrollmentStore } from "../../state/enrollments"
import { EmulatorState } from "../../state/state"
import { RestAnswer, RestError, RestRoute, restCheckEtag, restEtag, restObject } from "../azure-rest"
import { RestApi, requestHostName } from "../rest-dispatch"
import { attestationBody, enrollmentBody, enrollmentRaw, registrationBody } from "./enrollment-shape"

/** DPS's numbers for the failures the service API answers (the emulator's CA routes use the same). */
const DPS_CODES: Record<string, number> = {
    ArgumentInvalid: 400004,
    IotHubUnauthorizedAccess: 401002,
    NotFound: 404000,
    PreconditionFailed: 412000,
    RequestEntityTooLarge: 413000,
}

export function dpsRestError(e: unknown, now: Date): { status: number; json: unknown } {
    let status = 500
    let errorCode = 500000
    if (e instanceof RestError) {
        status = e.status
        errorCode = typeof e.code === "number" ? e.code : (DPS_CODES[e.code] ?? status * 1000)
    } else if (e instanceof ConfigError) {
        status = 400
        errorCode = 400004
    }
    return { status, json: { errorCode, trackingId: randomUUID(), message: e instanceof Error ? e.message : String(e), timestampUtc: now.toISOString() } }
}

export class DpsRest {
    readonly routes: RestRoute[]

    constructor(
        private readonly config: EmulatorConfig,
        private readonly enrollments: EnrollmentStore,
        private readonly state: EmulatorState,
        private readonly emit: Emit,
        private readonly now: () => Date = () => new Date()
    ) {
        const id = "([^/]+)"
        const kinds: [EnrollmentKind, string][] = [
            ["individual", "enrollments"],
            ["group", "enrollment[Gg]roups"],
        ]
        this.routes = kinds.flatMap(([kind, segment]): RestRoute[] => [
            ["POST", new RegExp(`^/${segment}/query$`), async () => ({ status: 200, json: enrollments.list(kind).map((e) => this.body(e)) })],
            ["GET", new RegExp(`^/${segment}/${id}$`), async (r) => this.answer(this.find(kind, r.ids[0]))],
            ["PUT", new RegExp(`^/${segment}/${id}$`), async (r) => this.put(kind, r.ids[0], restObject(await r.body(), "the enrollment"), r.ifMatch)],
            [
                "DELETE",
                new RegExp(`^/${segment}/${id}$`),
                async (r) => {
                    this.delete(kind, r.ids[0], r.ifMatch)
                    return { status: 204 }
                },
            ],
            ["POST", new RegExp(`^/${segment}/${id}/attestationmechanism$`), async (r) => ({ status: 200, json: this.keys(kind, r.ids[0]) })],
        ])
        this.routes.push(
            ["GET", new RegExp(`^/registrations/${id}$`), async (r) => this.registration(r.ids[0])],
            [
                "DELETE",
                new RegExp(`^/registrations/${id}$`),
                async (r) => {
                    restCheckEtag(r.ifMatch, this.registrationRecord(r.ids[0]).etag, "PreconditionFailed")
                    state.deleteRegistration(r.ids[0])
                    return { status: 204 }
                },
            ],
            [
                "POST",
                new RegExp(`^/registrations/${id}/query$`),
                async (r) => {
                    const group = this.find("group", r.ids[0]) as Extract<Enrollment, { kind: "group" }>
                    const mine = state.registrations().filter((x) => x.enrollmentGroupId?.toLowerCase() === group.enrollmentGroupId.toLowerCase())
                    return { status: 200, json: mine.map(registrationBody) }
                },
            ]
        )
    }

    private find(kind: EnrollmentKind, id: string): Enrollment {
        const e = this.enrollments.get(kind, id)
        if (!e) throw new RestError(404, "NotFound", `${kind === "individual" ? "enrollment" : "enrollment group"} ${id} not found`)
        return e
    }

    /** A config enrollment never changed at run time has an ETag of its content. */
    private etag(e: Enrollment): string {
        return this.enrollments.metaOf(e)?.etag ?? restEtag(enrollmentBody(e, { etag: "" }))
    }

    private body(e: Enrollment) {
        return enrollmentBody(e, { ...this.enrollments.metaOf(e), etag: this.etag(e) })
    }

    private answer(e: Enrollment, status = 200): RestAnswer {
        const json = this.body(e)
        return { status, json, etag: json.etag }
    }

    private put(kind: EnrollmentKind, id: string, body: Record<string, any>, ifMatch: string | undefined): RestAnswer {
        const existing = this.enrollments.get(kind, id)
        if (ifMatch !== undefined && ifMatch !== "*") {
            if (!existing) throw new RestError(404, "NotFound", `${id} not found (If-Match names a version of it)`)
            restCheckEtag(ifMatch, this.etag(existing), "PreconditionFailed")
        }
        const raw = enrollmentRaw(body, kind, id, existing)
        const e = validateEnrollment(this.config, raw)
        const now = this.now().toISOString()
        const createdDateTimeUtc = (existing && this.enrollments.metaOf(existing)?.createdDateTimeUtc) ?? now
        this.enrollments.put(e, raw, { etag: restEtag({ raw, now }), createdDateTimeUtc, lastUpdatedDateTimeUtc: now })
        this.emit("dps.enrollment", { enrollmentId: id, kind, change: existing ? "updated" : "created" })
        return this.answer(e)
    }

    /** Creates an enrollment that must not exist yet (the portal's "Add enrollment" never replaces one). */
    create(kind: EnrollmentKind, id: string, body: Record<string, any>): RestAnswer {
        if (this.enrollments.get(kind, id))
            throw new RestError(409, "Conflict", `${kind === "individual" ? "enrollment" : "enrollment group"} ${id} already exists`)
        return this.put(kind, id, body, undefined)
    }

    delete(kind: EnrollmentKind, id: string, ifMatch: string | undefined): void {
        const gone = this.find(kind, id)
        restCheckEtag(ifMatch, this.etag(gone), "PreconditionFailed")
        this.enrollments.delete(kind, id)
        this.emit("dps.enrollment", { enrollmentId: enrollmentId(gone), kind, change: "deleted" })
    }

    /** The attestation mechanism with its keys: the only answer that shows them. */
    keys(kind: EnrollmentKind, id: string) {
        return attestationBody(this.find(kind, id), true)
    }

    private registrationRecord(id: string) {
        const r = this.state.registration(id)
        if (!r) throw new RestError(404, "NotFound", `registration ${id} not found`)
        return r
    }

    private registration(id: string): RestAnswer {
        const r = this.registrationRecord(id)
        return { status: 200, json: registrationBody(r), etag: r.etag }
    }
}

/** DPS's service API for the endpoint: tokens for the host name the client addressed, signed with provisioningserviceowner. */
export function dpsRestApi(rest: DpsRest): RestApi {
    return { routes: rest.routes, skn: DPS_SERVICE_POLICY, resources: (req) => [requestHostName(req)], what: "DPS service", error: dpsRestError }
}
