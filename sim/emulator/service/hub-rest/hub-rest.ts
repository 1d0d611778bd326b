// IoT Hub's service REST API (api-version 2021-04-12, what azure-iothub 1.16 sends) over the
// emulator's hub state: the registry (`/devices`), twins (`/twins/{id}`) and direct methods
// (`/twins/{id}/methods`), with ETags and If-Match, and errors as IoT Hub writes them
// (`{"Message":"ErrorCode:<name>;<text>","ExceptionMessage":"Tracking ID:...-TimeStamp:..."}`,
// the shape azure-iothub's parseErrorBody reads to tell DeviceNotFound from other 404s).
import { randomUUID } from "crypto"
import { HubService, HubServiceError, AuthenticationRequest } from "../service"
import { DeviceView } from "../../state/hub-registry"
import { JsonObject, twinApplyPatch, twinApplyTags } from "../../state/twin"
import { RestAnswer, RestError, RestRoute, restCheckEtag, restEtag, restObject } from "../azure-rest"
import { RestApi } from "../rest-dispatch"
import { parseTwinQuery, twinMatches } from "./twin-query"
import { SERVICE_POLICY } from "../../config"

/** IoT Hub's names for the emulator's error codes (azure-iot-sdk-csharp's ErrorCode enum; IoT Hub's common error codes). */
const ERROR_NAMES: Record<number, string> = {
    400004: "ArgumentInvalid",
    401002: "IotHubUnauthorizedAccess",
    403004: "DeviceMaximumQueueDepthExceeded",
    404001: "DeviceNotFound",
    404103: "DeviceNotOnline",
    409001: "DeviceAlreadyExists",
    412002: "PreconditionFailed",
    413001: "MessageTooLarge",
    504101: "GatewayTimeout",
}

/** The status and body IoT Hub answers a failure with. */
export function hubRestError(e: unknown, now: Date): { status: number; json: unknown } {
    let status = 500
    let name = "ServerError"
    if (e instanceof HubServiceError) {
        status = e.status
        name = ERROR_NAMES[e.errorCode] ?? (status === 413 ? "RequestEntityTooLarge" : "ArgumentInvalid")
    } else if (e instanceof RestError) {
        status = e.status
        name = String(e.code)
    }
    const message = e instanceof Error ? e.message : String(e)
    const stamp = now
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "")
    return { status, json: { Message: `ErrorCode:${name};${message}`, ExceptionMessage: `Tracking ID:${randomUUID().replace(/-/g, "")}-TimeStamp:${stamp}` } }
}

const NEVER = "0001-01-01T00:00:00Z"

/** IoT Hub's `generationId`: new for each identity made under an id (here from its creation time). */
function generationId(v: DeviceView): string {
    return String(Date.parse(v.createdTimeUtc) * 10_000)
}

/** The device scope IoT Hub gives an IoT Edge device; its children carry it in parentScopes. */
function edgeScope(deviceId: string, generation: string): string {
    return `ms-azure-iot-edge://${deviceId}-${generation}`
}

export class HubRest {
    readonly routes: RestRoute[]

    constructor(
        private readonly service: HubService,
        private readonly hubs: string[]
    ) {
        const id = "([^/]+)"
        this.routes = [
            ["GET", /^\/devices\/?$/, async () => ({ status: 200, json: service.listDevices().map((d) => this.device(d.deviceId)) })],
            ["GET", new RegExp(`^/devices/${id}$`), async (r) => this.answerDevice(r.ids[0], 200)],
            ["PUT", new RegExp(`^/devices/${id}$`), async (r) => this.putDevice(r.ids[0], restObject(await r.body(), "the device"), r.ifMatch, r.audience)],
            [
                "DELETE",
                new RegExp(`^/devices/${id}$`),
                async (r) => {
                    restCheckEtag(r.ifMatch, this.device(r.ids[0]).etag, "PreconditionFailed")
                    service.deleteDevice(r.ids[0])
                    return { status: 204 }
                },
            ],
            [
                "POST",
                /^\/devices\/query$/,
                async (r) => this.query(restObject(await r.body(), "the query"), r.header("x-ms-max-item-count"), r.header("x-ms-continuation")),
            ],
            ["GET", /^\/statistics\/devices$/, async () => ({ status: 200, json: this.statistics() })],
            ["GET", new RegExp(`^/twins/${id}$`), async (r) => this.answerTwin(r.ids[0])],
            ["PATCH", new RegExp(`^/twins/${id}$`), async (r) => this.patchTwin(r.ids[0], restObject(await r.body(), "the twin patch"), r.ifMatch, false)],
            ["PUT", new RegExp(`^/twins/${id}$`), async (r) => this.patchTwin(r.ids[0], restObject(await r.body(), "the twin"), r.ifMatch, true)],
            ["POST", new RegExp(`^/twins/${id}/methods$`), async (r) => this.invoke(r.ids[0], restObject(await r.body(), "the method call"))],
        ]
    }

    /** A device identity as IoT Hub's registry returns it, keys included (the caller holds the service key). */
    device(deviceId: string) {
        const v = this.service.getDevice(deviceId)
        const a = this.service.authentication(deviceId)
        const generation = generationId(v)
        const parent = v.parent ? this.service.getDevice(v.parent) : undefined
        const authentication = {
            symmetricKey: { primaryKey: a.type === "sas" ? a.keys.primaryKey : null, secondaryKey: a.type === "sas" ? (a.keys.secondaryKey ?? null) : null },
            x509Thumbprint: {
                primaryThumbprint: a.type === "selfSigned" ? a.primaryThumbprint : null,
                secondaryThumbprint: a.type === "selfSigned" ? (a.secondaryThumbprint ?? null) : null,
            },
            type: a.type,
        }
        return {
            deviceId,
            generationId: generation,
            // Changes whenever what a PUT can change does.
            etag: restEtag({ generation, status: v.status, authentication, parent: v.parent }),
            connectionState: v.connectionState,
            status: v.status,
            statusReason: null,
            connectionStateUpdatedTime: v.connectionStateUpdatedTimeUtc ?? NEVER,
            lastActivityTime: v.lastActivityTimeUtc ?? NEVER,
            cloudToDeviceMessageCount: v.cloudToDeviceMessageCount,
            authentication,
            capabilities: { iotEdge: v.iotEdge },
            ...(v.iotEdge ? { deviceScope: edgeScope(deviceId, generation) } : {}),
            ...(parent
                ? { deviceScope: edgeScope(parent.deviceId, generationId(parent)), parentScopes: [edgeScope(parent.deviceId, generationId(parent))] }
                : {}),
        }
    }

    private answerDevice(deviceId: string, status: number): RestAnswer {
        const json = this.device(deviceId)
        return { status, json, etag: json.etag }
    }

    /**
     * Without If-Match a PUT creates, in the hub the token names (409 DeviceAlreadyExists if the id is taken: ids are
     * unique across the emulator's hubs); with one it updates (the ETag must match unless "*"): status, and keys or
     * thumbprints of the same authentication type.
     */
    private putDevice(deviceId: string, body: Record<string, any>, ifMatch: string | undefined, audience: string): RestAnswer {
        if (body.deviceId !== undefined && body.deviceId !== deviceId)
            throw new RestError(400, "ArgumentInvalid", `deviceId ${JSON.stringify(body.deviceId)} in the body is not ${deviceId} of the path`)
        const status = body.status ?? "enabled"
        if (status !== "enabled" && status !== "disabled") throw new RestError(400, "ArgumentInvalid", 'status must be "enabled" or "disabled"')
        const authentication = authenticationRequest(body.authentication)
        const edge = body.capabilities?.iotEdge
        const noEdge = () => new RestError(400, "ArgumentInvalid", "IoT Edge devices come from the emulator's config (edges), where their gateway is set up")
        if (ifMatch === undefined) {
            if (edge === true) throw noEdge()
            const hub = this.hubs.find((h) => h.toLowerCase() === audience.toLowerCase()) ?? this.hubs[0]
            this.service.createIdentity(deviceId, hub, authentication)
            if (status === "disabled") this.service.setDeviceStatus(deviceId, status)
            return this.answerDevice(deviceId, 200)
        }
        const current = this.device(deviceId)
        restCheckEtag(ifMatch, current.etag, "PreconditionFailed")
        if (edge !== undefined && edge !== current.capabilities.iotEdge) throw noEdge()
        if (authenticationChanges(authentication, current.authentication)) this.service.setAuthentication(deviceId, authentication)
        if (status !== current.status) this.service.setDeviceStatus(deviceId, status)
        return this.answerDevice(deviceId, 200)
    }

    private statistics() {
        const all = this.service.listDevices()
        const enabled = all.filter((d) => d.status === "enabled").length
        return { totalDeviceCount: all.length, enabledDeviceCount: enabled, disabledDeviceCount: all.length - enabled }
    }

    /** The twin as IoT Hub's `GET /twins/{id}` returns it ($metadata is not kept). */
    twin(deviceId: string) {
        const d = this.device(deviceId)
        const t = this.service.twin(deviceId)
        const tags = t.tags ?? {}
        const content = { tags, desired: t.desired, reported: t.reported }
        return {
            deviceId,
            etag: restEtag({ ...content, versions: [t.desiredVersion, t.reportedVersion, t.tagsVersion ?? 0] }),
            deviceEtag: d.etag,
            status: d.status,
            connectionState: d.connectionState,
            lastActivityTime: d.lastActivityTime,
            cloudToDeviceMessageCount: d.cloudToDeviceMessageCount,
            authenticationType: d.authentication.type,
            x509Thumbprint: d.authentication.x509Thumbprint,
            // One more for each change to any part of the twin.
            version: t.desiredVersion + t.reportedVersion + (t.tagsVersion ?? 0) - 1,
            tags,
            properties: {
                desired: { ...t.desired, $version: t.desiredVersion },
                reported: { ...t.reported, $version: t.reportedVersion },
            },
            capabilities: d.capabilities,
            ...(d.parentScopes ? { parentScopes: d.parentScopes } : {}),
        }
    }

    private answerTwin(deviceId: string): RestAnswer {
        const json = this.twin(deviceId)
        return { status: 200, json, etag: json.etag }
    }

    /**
     * PATCH merges tags and desired properties (null deletes); PUT replaces both. Reported properties are the
     * device's. Both parts are checked before either changes, so a refused request changes nothing.
     */
    private patchTwin(deviceId: string, body: Record<string, any>, ifMatch: string | undefined, replace: boolean): RestAnswer {
        restCheckEtag(ifMatch, this.twin(deviceId).etag, "PreconditionFailed")
        if (body.properties?.reported !== undefined) throw new RestError(400, "ArgumentInvalid", "reported properties are set by the device, not the service")
        const t = this.service.twin(deviceId)
        let tags = body.tags === undefined ? undefined : restObject(body.tags, "tags")
        let desired = body.properties?.desired === undefined ? undefined : restObject(body.properties.desired, "properties.desired")
        if (replace) {
            tags = replacement(t.tags ?? {}, tags ?? {})
            desired = replacement(t.desired, desired ?? {})
        }
        for (const r of [tags && twinApplyTags(t, tags), desired && twinApplyPatch(t, "desired", desired)])
            if (r && !r.ok) throw new HubServiceError(r.errorCode, r.message)
        if (tags && Object.keys(tags).length) this.service.updateTags(deviceId, tags)
        if (desired && Object.keys(desired).length) this.service.updateDesired(deviceId, desired)
        return this.answerTwin(deviceId)
    }

    /**
     * `{"query": "SELECT * FROM devices WHERE ..."}` (twin-query.ts): the matching twins, `x-ms-max-item-count` at a time
     * (default 100), the next page's token in `x-ms-continuation`.
     */
    private query(body: Record<string, any>, maxItems: string | undefined, continuation: string | undefined): RestAnswer {
        if (typeof body.query !== "string") throw new RestError(400, "ArgumentInvalid", 'body must be {"query":"SELECT * FROM devices ..."}')
        const conditions = parseTwinQuery(body.query)
        const pageSize = maxItems === undefined ? 100 : Number(maxItems)
        if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new RestError(400, "ArgumentInvalid", "x-ms-max-item-count must be 1..1000")
        const from = continuation === undefined ? 0 : Number(Buffer.from(continuation, "base64").toString())
        if (!Number.isInteger(from) || from < 0) throw new RestError(400, "ArgumentInvalid", "x-ms-continuation is not a token this hub gave")
        const all = this.service
            .listDevices()
            .map((d) => this.twin(d.deviceId))
            .filter((t) => twinMatches(t, conditions))
        const page = all.slice(from, from + pageSize)
        const next = from + pageSize < all.length ? { "x-ms-continuation": Buffer.from(String(from + pageSize)).toString("base64") } : undefined
        return { status: 200, json: page, headers: next }
    }

    /** `{methodName, payload, responseTimeoutInSeconds}` -> `{status, payload}` as the device answered. */
    private async invoke(deviceId: string, body: Record<string, any>): Promise<RestAnswer> {
        if (typeof body.methodName !== "string") throw new RestError(400, "ArgumentInvalid", "methodName must be a string")
        const timeout = body.responseTimeoutInSeconds ?? 30
        if (typeof timeout !== "number") throw new RestError(400, "ArgumentInvalid", "responseTimeoutInSeconds must be a number")
        const r = await this.service.invokeMethod(deviceId, body.methodName, body.payload ?? null, timeout)
        return { status: 200, json: { status: r.status, payload: r.payload } }
    }
}

/** Whether a PUT's credentials differ from the identity's (a body without keys keeps them). */
function authenticationChanges(r: AuthenticationRequest, current: ReturnType<HubRest["device"]>["authentication"]): boolean {
    if (r.type !== current.type) return true
    if (r.type === "sas")
        return (
            r.keys.primaryKey !== undefined &&
            (r.keys.primaryKey !== current.symmetricKey.primaryKey || (r.keys.secondaryKey ?? null) !== current.symmetricKey.secondaryKey)
        )
    if (r.type === "selfSigned")
        return (
            r.primaryThumbprint.toUpperCase() !== current.x509Thumbprint.primaryThumbprint ||
            (r.secondaryThumbprint?.toUpperCase() ?? null) !== current.x509Thumbprint.secondaryThumbprint
        )
    return false
}

/** The merge patch that turns `from` into `to` (what is not in `to` is deleted). */
function replacement(from: JsonObject, to: JsonObject): JsonObject {
    const patch: JsonObject = {}
    for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null
    return { ...patch, ...to }
}

/** IoT Hub's `authentication` of a device body; empty or absent keys are generated (as azure-iothub's create sends them). */
function authenticationRequest(a: any): AuthenticationRequest {
    const type = a?.type ?? "sas"
    if (type === "sas") {
        const key = (k: unknown) => (typeof k === "string" && k !== "" ? k : undefined)
        return { type, keys: { primaryKey: key(a?.symmetricKey?.primaryKey), secondaryKey: key(a?.symmetricKey?.secondaryKey) } }
    }
    if (type === "selfSigned") {
        const t = a?.x509Thumbprint ?? {}
        if (typeof t.primaryThumbprint !== "string") throw new RestError(400, "ArgumentInvalid", "a selfSigned device needs x509Thumbprint.primaryThumbprint")
        return { type, primaryThumbprint: t.primaryThumbprint, secondaryThumbprint: t.secondaryThumbprint ?? undefined }
    }
    if (type === "certificateAuthority") return { type }
    throw new RestError(400, "ArgumentInvalid", `authentication.type ${JSON.stringify(type)} is not sas, selfSigned or certificateAuthority`)
}

/** IoT Hub's service API for the endpoint: tokens for one of the hubs, signed with the iothubowner policy. */
export function hubRestApi(service: HubService, hubs: string[]): RestApi {
    return { routes: new HubRest(service, hubs).routes, skn: SERVICE_POLICY, resources: () => hubs, what: "hub", error: hubRestError }
}
