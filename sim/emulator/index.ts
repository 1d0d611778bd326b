// The emulator: one state with faces on top (DPS and IoT Hub over one MQTT port, DPS over
// HTTPS, the service side in code and over HTTPS, IoT Edge gateways on their own ports).
// The state lives in memory and in a durable store (store.ts) in `stateDir`: start() reopens what
// a previous run kept, and nothing is acknowledged before it is on disk. Events (see events.ts)
// report every step; none carries a key or token.
import { EventEmitter } from "events"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import type { Socket } from "net"
import type { TLSSocket } from "tls"
import { EmulatorConfig, enrollmentsWithoutKeys } from "./config"
import { DpsFace } from "./dps/dps-face"
import { DpsService } from "./service/dps-service"
import { EdgeFace } from "./edge/edge-face"
import { dpsParseUsername } from "./dps/dps-protocol"
import { EmulatorEventName, EmulatorEvents } from "./events"
import { Face, ListenerFace } from "./face"
import { HubFace } from "./hub/hub-face"
import { dpsAuthenticator, hubAuthenticator } from "./auth/authenticators"
import { HubLink } from "./service/hub-link"
import { DeviceAuthentication } from "./state/hub-registry"
import { MQTT_LIMITS, MqttConnection } from "./transport/mqtt-connection"
import { routeMqttConnection } from "./transport/mqtt-router"
import { HubService } from "./service/service"
import { startServiceEndpoint } from "./service/service-endpoint"
import { dashboardSources } from "./service/dashboard/dashboard-sources"
import { EmulatorState, RegistrationRecord } from "./state/state"
import { EventGrid } from "./service/event-grid"
import { EnrollmentStore } from "./state/enrollments"
import { DpsRest } from "./service/dps-rest/dps-rest"
import { StateStore, StoreStats } from "./state/store"
import { startDpsRestFace } from "./dps/dps-rest-face"
import { startTlsListener, TlsMaterial } from "./transport/tls-listener"

export * from "./config"
export * from "./events"
export type { RegistrationRecord } from "./state/state"
export { sasBuildToken, sasDeriveDeviceKey } from "./auth/sas"
export { HubService, HubServiceError } from "./service/service"
export { DpsService, CaStoreError } from "./service/dps-service"
export type { CaCertificateView } from "./service/dps-service"
export type { C2dOptions, MethodResult } from "./service/service"
export type { DeviceAuthentication, DeviceAuthenticationType, DeviceView, TelemetryMessage } from "./state/hub-registry"

export interface EmulatorPorts {
    mqttPort: number
    /** DPS over HTTPS (the REST API), whose Date headers also serve as the devices' clock. */
    httpsPort: number
    /** The management endpoint; undefined when no service key is configured. */
    servicePort?: number
    /** The IoT Edge gateways' ports, in the order of `edges` in the config. */
    edgePorts: number[]
}

function readPem(value: string, what: string): string {
    if (value.includes("-----BEGIN")) return value
    try {
        return fs.readFileSync(value, "utf8")
    } catch {
        throw new Error(`${what} not found at ${value}; npm install generates the test PKI (sim/pki)`)
    }
}

export interface Emulator {
    on<K extends EmulatorEventName>(name: K, listener: (data: EmulatorEvents[K]) => void): this
    on(name: "event", listener: <K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]) => void): this
    once<K extends EmulatorEventName>(name: K, listener: (data: EmulatorEvents[K]) => void): this
    off<K extends EmulatorEventName>(name: K, listener: (data: EmulatorEvents[K]) => void): this
}

export interface EmulatorOptions {
    /**
     * Where the state is kept across runs (created if missing). Without it, start() uses a new
     * temporary directory that stop() removes: every run starts fresh.
     */
    stateDir?: string
    /** Forget what `stateDir` holds and start from the configuration alone. */
    fresh?: boolean
}

/** The config's devices and CA certificates already put into a store: later runs add only new ones. */
const SEEDED_KEY = "meta/seeded"
type Seeded = { devices: string[]; certificates: string[] }

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only types the events of EventEmitter's own methods
export class Emulator extends EventEmitter {
    readonly state: EmulatorState
    /** The hubs' way to their devices (C2D, desired pushes, methods, disconnects). */
    readonly hub: HubLink
    private readonly hubFace: HubFace
    /** The hubs' service side: C2D, methods, twins, identities, telemetry. */
    readonly service: HubService
    /** DPS's service side: CA certificates and their proof of possession. */
    readonly dps: DpsService
    /** The IoT Edge gateways, by edge device id. */
    readonly edges: ReadonlyMap<string, EdgeFace>
    /** Webhook subscriptions to device events, when the config has any. */
    readonly eventGrid?: EventGrid
    /** The faces started, in order (closed in reverse). */
    private started: Face[] = []
    private readonly edgeListeners = new Map<string, ListenerFace>()
    private store?: StateStore
    private temporaryStateDir?: string

    readonly config: EmulatorConfig
    /** DPS's enrollments: the config's, changed at run time through the service API. */
    readonly enrollments: EnrollmentStore

    constructor(
        config: EmulatorConfig,
        private readonly options: EmulatorOptions = {}
    ) {
        super()
        // An own list of enrollments: the service API changes it, never the caller's config.
        this.config = config = { ...config, enrollments: [...config.enrollments] }
        this.enrollments = new EnrollmentStore(config)
        const missing = enrollmentsWithoutKeys(config)
        if (missing.length) throw new Error(`enrollments without keys: ${missing.join(", ")} (see generateMissingKeys)`)
        this.state = new EmulatorState(config.telemetry.retainedBytes)
        const emit = this.report.bind(this)
        this.hubFace = new HubFace(this.state, hubAuthenticator(config, this.state), emit)
        this.hub = this.hubFace.outbound
        this.edges = new Map(
            config.edges.map((e) => [e.deviceId, new EdgeFace(e, config.edge, this.state, this.hubFace, hubAuthenticator(config, this.state, e), emit)])
        )
        this.service = new HubService(this.state, this.hub, emit, this.edges)
        this.dps = new DpsService(this.state.certificates, emit)
        this.on("hub.telemetry", (m) => this.service.publishTelemetry(m))
        const subscriptions = config.eventGrid.subscriptions
        if (subscriptions.length) {
            const ca = config.tls.ca ? [readPem(config.tls.ca, "TLS CA certificate")] : []
            const twinOf = (deviceId: string) => {
                if (!this.state.hub.device(deviceId)) return undefined
                const v = this.service.getDevice(deviceId)
                const { status, connectionState, authenticationType, cloudToDeviceMessageCount } = v
                const properties = this.service.getTwin(deviceId).properties
                return { deviceId, status, connectionState, lastActivityTime: v.lastActivityTimeUtc, authenticationType, cloudToDeviceMessageCount, properties }
            }
            this.eventGrid = new EventGrid(subscriptions, ca, twinOf, (subscription, what) => emit("eventgrid.subscription", { subscription, what }))
            const grid = this.eventGrid
            this.on("event", (name, data) => void grid.observe(name, data))
        }
        this.seed({ devices: [], certificates: [] })
    }

    /** Puts the config's CA certificates and device identities into the state, but those in `done`. */
    private seed(done: Seeded): void {
        for (const c of this.config.certificates)
            if (!done.certificates.includes(c.name.toLowerCase())) this.state.certificates.upload(c.name, c.pem, c.verified)
        const now = new Date()
        for (const d of this.config.devices) {
            if (done.devices.includes(d.deviceId)) continue
            const a = d.authentication
            const auth: DeviceAuthentication = a.type === "sas" ? { type: "sas", keys: { primaryKey: d.primaryKey!, secondaryKey: d.secondaryKey } } : a
            const rec = this.state.hub.assignDevice(d.deviceId, d.hub, auth, now, d.status)
            rec.iotEdge = this.edges.has(d.deviceId)
            rec.parent = d.parent
            this.state.hub.changed(rec)
        }
    }

    /**
     * Opens the store: a new one gets the state built from the config; an existing one replaces it,
     * and config entries it has never seen are added (one deleted at run time stays deleted).
     */
    private async openStore(): Promise<StateStore> {
        let dir = this.options.stateDir
        if (!dir) {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "emulator-state-"))
            this.temporaryStateDir = dir
        }
        const store = await StateStore.open(dir)
        // Cleared under the store's lock: a fresh start never pulls the files from under another emulator.
        if (this.options.fresh) await store.clear()
        const entries = await store.load()
        const isNew = entries.length === 0
        if (!isNew) {
            this.state.restore(entries)
            for (const edge of this.edges.values()) edge.restoreQueue(entries)
        }
        this.state.attach(store, isNew)
        this.eventGrid?.attach(store, entries)
        this.enrollments.attach(store, entries)
        for (const edge of this.edges.values()) edge.attachJournal(store, isNew)
        const done = (entries.find(([k]) => k === SEEDED_KEY)?.[1] as Seeded | undefined) ?? { devices: [], certificates: [] }
        if (!isNew) this.seed(done)
        const seeded: Seeded = {
            devices: [...new Set([...done.devices, ...this.config.devices.map((d) => d.deviceId)])],
            certificates: [...new Set([...done.certificates, ...this.config.certificates.map((c) => c.name.toLowerCase())])],
        }
        store.put(SEEDED_KEY, () => seeded)
        await store.barrier()
        return store
    }

    /** Emits a typed event (the faces' reporting path), and `event` (name, data) for loggers that take every one. */
    report<K extends EmulatorEventName>(name: K, data: EmulatorEvents[K]): void {
        this.emit(name, data)
        this.emit("event", name, data)
    }

    /** Commits and records written by the store so far (benchmarks); undefined before start. */
    storeStats(): StoreStats | undefined {
        return this.store && { ...this.store.stats }
    }

    /** Resolves once every change made so far is on disk (what the faces wait for before acknowledging). */
    committed(): Promise<void> {
        return this.store?.barrier() ?? Promise.resolve()
    }

    /** The port the gateway of this edge device listens on (after start). */
    edgePort(edgeDeviceId: string): number {
        const face = this.edgeListeners.get(edgeDeviceId)
        if (!face || !this.started.includes(face)) throw new Error(`no IoT Edge gateway ${edgeDeviceId} is listening`)
        return face.port
    }

    registration(registrationId: string): RegistrationRecord | undefined {
        return this.state.registration(registrationId)
    }

    async start(): Promise<EmulatorPorts> {
        this.store = await this.openStore()
        await this.eventGrid?.start(
            this.config.hubs[0].hostName,
            this.service.listDevices().map((d) => d.deviceId)
        )
        const faces = this.faces({
            cert: readPem(this.config.tls.cert, "TLS server certificate"),
            key: readPem(this.config.tls.key, "TLS server key"),
        })
        try {
            for (const face of faces.all) {
                await face.start()
                this.started.push(face)
            }
        } catch (e) {
            await this.stop()
            throw e
        }
        const ports = { mqttPort: faces.mqtt.port, httpsPort: faces.https.port, edgePorts: faces.edges.map((f) => f.port) }
        return faces.service ? { ...ports, servicePort: faces.service.port } : ports
    }

    /**
     * The listening faces, in the order they start: DPS and the hubs on the MQTT port, DPS over
     * HTTPS, each IoT Edge gateway, and the management endpoint when a service key is configured.
     */
    private faces(material: TlsMaterial) {
        const { config } = this
        const emit = this.report.bind(this)
        const dps = new DpsFace(config, this.state, dpsAuthenticator(config, this.state), emit)
        // A DPS user name names `registrations`; everything else is for a hub.
        const pick = (p: { username?: string }) => (p.username !== undefined && dpsParseUsername(p.username) ? dps : this.hubFace)
        const tlsError = (face: string) => (remote: string, reason: string) => emit("connection.error", { face, remote, reason })
        const mqtt = new ListenerFace("mqtt", () =>
            startTlsListener(
                material,
                config.bind,
                config.ports.mqtt,
                (sock, wire, authenticated) => routeMqttConnection(this.connection(sock, wire, authenticated), pick, emit),
                tlsError("mqtt")
            )
        )
        const durable = () => this.store?.barrier()
        // DPS's HTTPS face; its Date headers are also the clock devices read (TIME_HOST), as on Azure's DPS host.
        const https = new ListenerFace("dps-https", () =>
            startDpsRestFace(material, config, dpsAuthenticator(config, this.state), dps.registrar, emit, durable)
        )
        const edges = [...this.edges.values()].map((edge) => {
            const face = new ListenerFace(`edge ${edge.edgeId}`, () => {
                const tls = { cert: readPem(edge.edge.tls.cert, "edge TLS certificate"), key: readPem(edge.edge.tls.key, "edge TLS key") }
                const onSecure = (sock: TLSSocket, wire: Socket | undefined, authenticated: () => void) =>
                    routeMqttConnection(this.connection(sock, wire, authenticated), () => edge, emit)
                return startTlsListener(tls, config.bind, edge.edge.port, onSecure, tlsError("edge"))
            })
            this.edgeListeners.set(edge.edgeId, face)
            return face
        })
        const sides = {
            hub: this.service,
            dps: this.dps,
            durable,
            hubs: config.hubs.map((h) => h.hostName),
            dashboard: dashboardSources(this),
            dpsRest: new DpsRest(config, this.enrollments, this.state, emit),
        }
        const service = config.service.primaryKey ? new ListenerFace("service", () => startServiceEndpoint(material, config, sides, emit)) : undefined
        return { mqtt, https, edges, service, all: [mqtt, https, ...edges, ...(service ? [service] : [])] }
    }

    private connection(sock: TLSSocket, wire: Socket | undefined, authenticated: () => void): MqttConnection {
        const conn = new MqttConnection(sock, MQTT_LIMITS, wire, () => this.store?.barrier())
        conn.once("accepted", authenticated)
        return conn
    }

    /** Closes the faces in reverse order (each with its open connections), then the store (a temporary one is removed). */
    async stop(): Promise<void> {
        this.eventGrid?.stop()
        const open = this.started
        this.started = []
        this.edgeListeners.clear()
        for (const face of open.reverse()) await face.close()
        const store = this.store
        this.store = undefined
        await store?.close()
        if (this.temporaryStateDir) fs.rmSync(this.temporaryStateDir, { recursive: true, force: true })
        this.temporaryStateDir = undefined
    }
}
