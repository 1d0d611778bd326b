// The service side of the emulated hubs, over the same state as the device faces: what
// `az iot hub` and the service SDKs do (device identities, twins, C2D, direct methods,
// following telemetry, IoT Edge parents and the gateways' uplink switch). Hub-side failures throw HubServiceError with IoT Hub's error codes.
import { randomBytes, randomUUID } from "crypto"
import { C2dMessage } from "../state/c2d-queue"
import { Emit } from "../events"
import { checkC2d, checkMethodName, checkMethodPayload, checkTopic } from "../hub/hub-limits"
import { hubC2dTopic } from "../hub/hub-protocol"
import { DeviceAuthentication, DeviceRecord, DeviceView, TelemetryMessage } from "../state/hub-registry"
import { HubServiceError, METHOD_MAX_TIMEOUT_SEC, MethodResult } from "../hub/methods"
import { propertyBagBuild } from "../hub/property-bag"
import { EdgeUplink, HubLink } from "./hub-link"
import { EmulatorState } from "../state/state"
import { JsonObject, Twin, twinApplyPatch, twinApplyTags, twinDocument } from "../state/twin"

export { HubServiceError } from "../hub/methods"
export type { MethodResult } from "../hub/methods"

export interface C2dOptions {
    /** Application properties. */
    properties?: Record<string, string>
    messageId?: string
    correlationId?: string
    contentType?: string
    contentEncoding?: string
}

export type TelemetryListener = (m: TelemetryMessage) => void

export class HubService {
    private readonly listeners = new Set<TelemetryListener>()

    constructor(
        private readonly state: EmulatorState,
        private readonly face: HubLink,
        private readonly emit: Emit,
        private readonly edges: ReadonlyMap<string, EdgeUplink> = new Map(),
        private readonly now: () => Date = () => new Date()
    ) {}

    /** Called by the emulator for each telemetry message. */
    publishTelemetry(m: TelemetryMessage): void {
        for (const l of this.listeners) l(m)
    }

    listDevices(): DeviceView[] {
        return this.state.hub.all().map((d) => this.view(d))
    }

    getDevice(deviceId: string): DeviceView {
        return this.view(this.device(deviceId))
    }

    /** A disabled device is disconnected and refused (CONNACK 5) until enabled again. */
    setDeviceStatus(deviceId: string, status: "enabled" | "disabled"): DeviceView {
        const d = this.device(deviceId)
        d.status = status
        this.state.hub.changed(d)
        if (status === "disabled") this.face.disconnect(deviceId, "device disabled by the service")
        this.emit("hub.device", { deviceId, hub: d.hub, change: status })
        return this.view(d)
    }

    /**
     * Creates a SAS identity (`az iot hub device-identity create`) on `hub`; keys are generated when not given, as
     * IoT Hub does. An id that exists is 409001 DeviceAlreadyExists.
     */
    createDevice(deviceId: string, hub: string, keys: { primaryKey?: string; secondaryKey?: string } = {}): DeviceView {
        return this.createIdentity(deviceId, hub, { type: "sas", keys })
    }

    /** Creates an identity of any authentication type (IoT Hub's `PUT /devices/{id}` without If-Match). */
    createIdentity(deviceId: string, hub: string, request: AuthenticationRequest): DeviceView {
        // IoT Hub's device id rule: up to 128 ASCII letters, digits and - . % _ * ? ! ( ) , : = @ $ '
        if (!/^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/.test(deviceId)) throw new HubServiceError(400004, `device id ${JSON.stringify(deviceId)} is not valid`)
        if (this.state.hub.device(deviceId)) throw new HubServiceError(409001, `device ${deviceId} already exists`)
        const rec = this.state.hub.assignDevice(deviceId, hub, authenticationOf(request), this.now())
        this.emit("hub.device", { deviceId, hub, change: "created" })
        return this.view(rec)
    }

    /** The identity's credentials (secrets: for the service key's holder only, as IoT Hub's registry read returns them). */
    authentication(deviceId: string): DeviceAuthentication {
        return this.device(deviceId).authentication
    }

    /**
     * Replaces the credentials of an identity with new ones of the same type (new keys or thumbprints; `az iot hub
     * device-identity renew-key`). Sessions already open stay, as on IoT Hub, until their token or connection ends.
     */
    setAuthentication(deviceId: string, request: AuthenticationRequest): DeviceView {
        const d = this.device(deviceId)
        if (request.type !== d.authentication.type)
            throw new HubServiceError(
                400004,
                `device ${deviceId} authenticates with ${d.authentication.type}; the emulator does not change the type of an identity`
            )
        if (request.type !== "certificateAuthority") d.authentication = authenticationOf(request)
        this.state.hub.changed(d)
        this.emit("hub.device", { deviceId, hub: d.hub, change: "credentials updated" })
        return this.view(d)
    }

    /** `az iot hub device-identity connection-string show`: what a device SDK connects with (a secret). */
    connectionString(deviceId: string): { connectionString: string } {
        const d = this.device(deviceId)
        const a = d.authentication
        const credential = a.type === "sas" ? `SharedAccessKey=${a.keys.primaryKey}` : "x509=true"
        return { connectionString: `HostName=${d.hub};DeviceId=${deviceId};${credential}` }
    }

    /** Deletes the identity (revocation): the device is disconnected; it comes back only by provisioning again. */
    deleteDevice(deviceId: string): void {
        const d = this.device(deviceId)
        this.face.disconnect(deviceId, "device deleted by the service")
        this.state.hub.delete(deviceId)
        this.emit("hub.device", { deviceId, hub: d.hub, change: "deleted" })
    }

    /**
     * Makes `edgeDeviceId` the device's parent (`az iot hub device-identity parent set`): only that
     * gateway admits it from now on; a session through another gateway is closed.
     */
    setParent(deviceId: string, edgeDeviceId: string): DeviceView {
        const d = this.device(deviceId)
        const edge = this.device(edgeDeviceId)
        if (!edge.iotEdge || edge.hub !== d.hub) throw new HubServiceError(400004, `${edgeDeviceId} is not an IoT Edge device of ${d.hub}`)
        d.parent = edgeDeviceId
        this.state.hub.changed(d)
        const via = this.face.gatewayOf(deviceId)
        if (via !== undefined && via !== edgeDeviceId) this.face.disconnect(deviceId, `parent changed to ${edgeDeviceId}`)
        this.emit("hub.device", { deviceId, hub: d.hub, change: "parent set" })
        return this.view(d)
    }

    /**
     * The emulated gateway's connection to its hub. Down, it stores its leaves' telemetry and they
     * are offline to the hub (methods 404103, desired and C2D wait); up again, it delivers the store.
     */
    setEdgeUplink(edgeDeviceId: string, up: boolean): { edgeId: string; up: boolean } {
        const edge = this.edges.get(edgeDeviceId)
        if (!edge) throw new HubServiceError(404001, `no IoT Edge gateway ${edgeDeviceId} in this emulator`)
        edge.setUplink(up)
        return { edgeId: edgeDeviceId, up: edge.uplinkUp }
    }

    getTwin(deviceId: string): { deviceId: string; properties: ReturnType<typeof twinDocument> } {
        return { deviceId, properties: twinDocument(this.device(deviceId).twin) }
    }

    /** The twin as kept, with its tags and section versions (IoT Hub's service REST API shows all of them). */
    twin(deviceId: string): Twin {
        return this.device(deviceId).twin
    }

    /** Merges `patch` into the twin's tags; devices are not told (tags are the service side's). */
    updateTags(deviceId: string, patch: JsonObject): { version: number } {
        const d = this.device(deviceId)
        const r = twinApplyTags(d.twin, patch)
        if (!r.ok) throw new HubServiceError(r.errorCode, r.message)
        d.twin = r.twin
        this.state.hub.changed(d)
        return { version: r.version }
    }

    /** Merges `patch` into the desired properties and pushes it to the device if it is listening. */
    updateDesired(deviceId: string, patch: JsonObject): { version: number; delivered: boolean } {
        const d = this.device(deviceId)
        const r = twinApplyPatch(d.twin, "desired", patch)
        if (!r.ok) throw new HubServiceError(r.errorCode, r.message)
        d.twin = r.twin
        this.state.hub.changed(d)
        const delivered = this.face.pushDesired(deviceId, stripVersion(patch), r.version)
        this.emit("hub.twin.desired", { deviceId, patch, version: r.version, delivered })
        return { version: r.version, delivered }
    }

    /** Queues a cloud-to-device message (at most 50 pending per device, 64 KB each with its properties). Returns its message id. */
    sendC2d(deviceId: string, body: string | Buffer, options: C2dOptions = {}): string {
        const d = this.device(deviceId)
        const data = typeof body === "string" ? Buffer.from(body) : body
        const messageId = options.messageId ?? randomUUID()
        const systemProperties: Record<string, string> = { messageId, to: `/devices/${deviceId}/messages/deviceBound` }
        if (options.correlationId) systemProperties.correlationId = options.correlationId
        if (options.contentType) systemProperties.contentType = options.contentType
        if (options.contentEncoding) systemProperties.contentEncoding = options.contentEncoding
        const properties = { ...options.properties }
        checkC2d(data, properties, systemProperties)
        checkTopic(hubC2dTopic(deviceId, propertyBagBuild(systemProperties, properties)), "the C2D message's properties")
        const m: Omit<C2dMessage, "seq"> = {
            messageId,
            body: data,
            properties,
            systemProperties,
            enqueuedTimeUtc: this.now().toISOString(),
            deliveryCount: 0,
        }
        try {
            d.c2d.enqueue(m)
        } catch (e) {
            throw new HubServiceError(403004, (e as Error).message)
        }
        this.emit("hub.c2d.queued", { deviceId, messageId, pending: d.c2d.size })
        this.face.deliverC2d(deviceId)
        return messageId
    }

    /** Calls a direct method: the device's {status, payload}, or 404103 (not online) / 504101 (no answer in time). */
    async invokeMethod(deviceId: string, methodName: string, payload: unknown = null, timeoutSec = 30): Promise<MethodResult> {
        this.device(deviceId)
        checkMethodName(methodName)
        checkMethodPayload(payload)
        if (!(timeoutSec > 0 && timeoutSec <= METHOD_MAX_TIMEOUT_SEC))
            throw new HubServiceError(400004, `timeout must be more than 0 and at most ${METHOD_MAX_TIMEOUT_SEC} s`)
        if (!this.face.listens(deviceId, "methods")) throw new HubServiceError(404103, `device ${deviceId} is not online (or not subscribed to methods)`)
        const call = this.face.methods.start(deviceId, timeoutSec)
        this.face.sendMethodRequest(deviceId, methodName, call.rid, payload)
        this.emit("hub.method.request", { deviceId, methodName, rid: call.rid, timeoutSec })
        try {
            const r = await call.result
            this.emit("hub.method.response", { deviceId, methodName, status: r.status })
            return r
        } catch (e) {
            this.emit("hub.method.response", { deviceId, methodName, status: (e as HubServiceError).status ?? 500 })
            throw e
        }
    }

    /** The device's messages still within the hubs' retention (config `telemetry.retainedBytes`), oldest first. */
    telemetry(deviceId: string): TelemetryMessage[] {
        this.device(deviceId)
        return this.state.hub.telemetry.forDevice(deviceId)
    }

    /** Follows telemetry live, like `az iot hub monitor-events`; returns the function that stops it. */
    monitorEvents(listener: TelemetryListener, deviceId?: string): () => void {
        const l: TelemetryListener = deviceId ? (m) => m.deviceId === deviceId && listener(m) : listener
        this.listeners.add(l)
        return () => this.listeners.delete(l)
    }

    private device(deviceId: string): DeviceRecord {
        const d = this.state.hub.device(deviceId)
        if (!d) throw new HubServiceError(404001, `device ${deviceId} not found`)
        return d
    }

    private view(d: DeviceRecord): DeviceView {
        return {
            deviceId: d.deviceId,
            hub: d.hub,
            status: d.status,
            iotEdge: d.iotEdge,
            parent: d.parent,
            authenticationType: d.authentication.type,
            connectionState: this.face.isConnected(d.deviceId) ? "Connected" : "Disconnected",
            connectionStateUpdatedTimeUtc: d.connectionStateUpdatedTimeUtc,
            cloudToDeviceMessageCount: d.c2d.size,
            createdTimeUtc: d.createdTimeUtc,
            lastActivityTimeUtc: d.lastActivityTimeUtc,
        }
    }
}

function stripVersion(patch: JsonObject): JsonObject {
    const { $version: _v, ...rest } = patch
    return rest
}

/** Credentials as the service asks for them: SAS keys (generated when absent) or X.509 thumbprints / a CA. */
export type AuthenticationRequest =
    | { type: "sas"; keys: { primaryKey?: string; secondaryKey?: string } }
    | { type: "selfSigned"; primaryThumbprint: string; secondaryThumbprint?: string }
    | { type: "certificateAuthority" }

function authenticationOf(request: AuthenticationRequest): DeviceAuthentication {
    if (request.type === "certificateAuthority") return { type: "certificateAuthority" }
    if (request.type === "selfSigned") {
        for (const t of [request.primaryThumbprint, request.secondaryThumbprint])
            if (t !== undefined && !/^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/.test(t))
                throw new HubServiceError(400004, "thumbprints must be SHA-1 (40) or SHA-256 (64) hex digits")
        const upper = (t?: string) => t?.toUpperCase()
        return { type: "selfSigned", primaryThumbprint: upper(request.primaryThumbprint)!, secondaryThumbprint: upper(request.secondaryThumbprint) }
    }
    for (const k of [request.keys.primaryKey, request.keys.secondaryKey])
        if (k !== undefined && !isSasKey(k)) throw new HubServiceError(400004, "keys must be base64 of 16 to 64 bytes")
    return {
        type: "sas",
        keys: {
            primaryKey: request.keys.primaryKey ?? randomBytes(32).toString("base64"),
            secondaryKey: request.keys.secondaryKey ?? randomBytes(32).toString("base64"),
        },
    }
}

function isSasKey(k: string): boolean {
    const bytes = Buffer.from(k, "base64")
    return bytes.length >= 16 && bytes.length <= 64 && bytes.toString("base64") === k
}
