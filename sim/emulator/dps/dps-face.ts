// The DPS face: binds MQTT connections to CONNECT authentication (the one it is given) and the
// registrar, and reports each step as an event.
import { CONNACK_NOT_AUTHORIZED, MqttConnection } from "../transport/mqtt-connection"
import { EmulatorConfig, enrollmentId } from "../config"
import { DpsAuthenticator } from "../auth/authenticators"
import { DPS_RESPONSE_FILTER, dpsParseRequestTopic, dpsResponseTopic } from "./dps-protocol"
import { DpsRegistrar, DpsReply, DpsSession } from "./dps-registrar"
import { Emit } from "../events"
import { MqttFace } from "../transport/mqtt-router"
import { EmulatorState } from "../state/state"
import { x509CommonName, x509Thumbprints } from "../auth/x509"
import type { IConnectPacket, IPublishPacket, ISubscribePacket } from "mqtt-packet"

export class DpsFace implements MqttFace {
    readonly name = "dps"

    /** Shared with the HTTPS face: one registrar, whichever way a device talks to DPS. */
    readonly registrar: DpsRegistrar

    constructor(
        private readonly config: EmulatorConfig,
        state: EmulatorState,
        private readonly authenticate: DpsAuthenticator,
        private readonly emit: Emit,
        private readonly now: () => Date = () => new Date()
    ) {
        this.registrar = new DpsRegistrar(state, config)
    }

    attach(conn: MqttConnection, connect: IConnectPacket): void {
        // Stays undefined on a connection admitted with bad credentials (dps.authFailure "register").
        let session: DpsSession | undefined
        let responseQos: 0 | 1 = 1
        conn.on("subscribe", (p: ISubscribePacket) => {
            const granted = p.subscriptions.map((s) => (s.topic === DPS_RESPONSE_FILTER ? Math.min(s.qos, 1) : 0x80))
            const res = p.subscriptions.findIndex((s) => s.topic === DPS_RESPONSE_FILTER)
            if (res >= 0) responseQos = granted[res] as 0 | 1
            conn.suback(p.messageId!, granted)
        })
        conn.on("publish", (p: IPublishPacket) => {
            const req = dpsParseRequestTopic(p.topic)
            if (!req) return conn.close(`publish to unknown topic ${JSON.stringify(p.topic)}`)
            const body = typeof p.payload === "string" ? Buffer.from(p.payload) : p.payload
            const now = this.now()
            let reply: DpsReply
            if (!session) reply = this.registrar.unauthorized(now)
            else if (req.kind === "register") {
                reply = this.registrar.register(session, body, now)
                const payload = reply.outcome.kind === "assigning" ? reply.outcome.record.payload : undefined
                this.emit("dps.register", { registrationId: session.registrationId, rid: req.rid, payload })
            } else reply = this.registrar.poll(session, req.operationId, now)
            conn.publish(dpsResponseTopic(reply.status, req.rid, reply.retryAfter), JSON.stringify(reply.body), responseQos)
            reportDpsReply(this.emit, session?.registrationId ?? conn.clientId ?? "", reply)
        })
        // Handlers first: a connection admitted with bad credentials still gets its 401 answers.
        const auth = this.authenticate.connect(connect, conn.clientChain, this.now())
        if (!auth.ok) {
            const deferred = this.config.dps.authFailure === "register"
            const answer = deferred ? "401 at registration" : "CONNACK 5"
            this.emit("dps.refused", { remote: conn.remote, clientId: connect.clientId, answer, reason: auth.reason })
            return deferred ? conn.accept() : conn.refuse(CONNACK_NOT_AUTHORIZED, auth.reason)
        }
        session = { registrationId: auth.registrationId, enrollment: auth.enrollment, credential: auth.credential }
        conn.accept()
        const c = auth.credential
        this.emit("dps.connect", {
            remote: conn.remote,
            registrationId: auth.registrationId,
            enrollmentId: enrollmentId(auth.enrollment),
            enrollmentKind: auth.enrollment.kind,
            attestation: c.kind,
            ...(c.kind === "symmetricKey" ? { key: c.key } : { commonName: x509CommonName(c.leaf), thumbprint: x509Thumbprints(c.leaf).sha1 }),
            apiVersion: auth.apiVersion,
        })
    }
}

/** The event of each answer DPS gives, over MQTT or HTTPS. */
export function reportDpsReply(emit: Emit, registrationId: string, reply: DpsReply): void {
    const o = reply.outcome
    switch (o.kind) {
        case "assigning":
            return emit("dps.assigning", { registrationId, operationId: o.operationId, retryAfter: reply.retryAfter ?? 0 })
        case "assigned":
            return emit("dps.assigned", {
                registrationId,
                deviceId: o.record.deviceId!,
                hub: o.record.assignedHub!,
                enrollmentGroupId: o.record.enrollmentGroupId,
            })
        case "failed":
        case "disabled":
            return emit("dps.failed", { registrationId, status: o.kind, errorCode: o.record.errorCode, errorMessage: o.record.errorMessage })
        case "throttled":
            return emit("dps.throttled", { registrationId, status: reply.status, retryAfter: reply.retryAfter ?? 0 })
        case "unavailable":
            return emit("dps.unavailable", { registrationId, status: reply.status, retryAfter: reply.retryAfter ?? 0 })
        case "rejected":
            return emit("dps.rejected", { registrationId, status: reply.status, errorCode: o.errorCode, message: o.message })
    }
}
