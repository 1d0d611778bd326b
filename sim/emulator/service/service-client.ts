// A client of the service endpoint (service-endpoint.ts): each call signs a fresh SAS token
// with the service policy's key and checks the endpoint's certificate against the given CA.
import * as https from "https"
import type { CaCertificateView } from "../state/ca-store"
import { DPS_SERVICE_POLICY, SERVICE_POLICY } from "../config"
import { sasBuildToken } from "../auth/sas"

export interface ServiceClientOptions {
    host: string
    port: number
    /** PEM of the CA that issued the emulator's certificate. */
    ca: string
    /** The hub host name the token names (sr). */
    hub: string
    serviceKey: string
    /** Token lifetime; the endpoint allows the usual clock skew. */
    tokenLifetimeSec?: number
}

export class ServiceRequestError extends Error {
    constructor(
        readonly status: number,
        readonly errorCode: number | undefined,
        message: string
    ) {
        super(message)
    }
}

export class ServiceClient {
    constructor(private readonly o: ServiceClientOptions) {}

    listDevices(): Promise<any[]> {
        return this.call("GET", "/devices")
    }
    getDevice(deviceId: string): Promise<any> {
        return this.call("GET", `/devices/${encodeURIComponent(deviceId)}`)
    }
    setDeviceStatus(deviceId: string, status: "enabled" | "disabled"): Promise<any> {
        return this.call("PATCH", `/devices/${encodeURIComponent(deviceId)}`, { status })
    }
    setParent(deviceId: string, edgeDeviceId: string): Promise<any> {
        return this.call("PUT", `/devices/${encodeURIComponent(deviceId)}/parent`, { parentId: edgeDeviceId })
    }
    setEdgeUplink(edgeDeviceId: string, up: boolean): Promise<{ edgeId: string; up: boolean }> {
        return this.call("PUT", `/edges/${encodeURIComponent(edgeDeviceId)}/uplink`, { up })
    }
    /** A SAS identity on this client's hub; keys generated unless given. */
    createDevice(deviceId: string, keys: { primaryKey?: string; secondaryKey?: string } = {}): Promise<any> {
        return this.call("PUT", `/devices/${encodeURIComponent(deviceId)}`, { hub: this.o.hub, authentication: { symmetricKey: keys } })
    }
    connectionString(deviceId: string): Promise<{ connectionString: string }> {
        return this.call("GET", `/devices/${encodeURIComponent(deviceId)}/connection-string`)
    }
    deleteDevice(deviceId: string): Promise<void> {
        return this.call("DELETE", `/devices/${encodeURIComponent(deviceId)}`)
    }
    getTwin(deviceId: string): Promise<any> {
        return this.call("GET", `/twins/${encodeURIComponent(deviceId)}`)
    }
    updateDesired(deviceId: string, desired: object): Promise<any> {
        return this.call("PATCH", `/twins/${encodeURIComponent(deviceId)}`, { properties: { desired } })
    }
    sendC2d(
        deviceId: string,
        data: string,
        options: { properties?: Record<string, string>; contentType?: string; contentEncoding?: string } = {}
    ): Promise<{ messageId: string }> {
        return this.call("POST", `/devices/${encodeURIComponent(deviceId)}/messages/deviceBound`, { data, ...options })
    }
    invokeMethod(deviceId: string, methodName: string, payload: unknown, timeoutSec = 30): Promise<{ status: number; payload: unknown }> {
        return this.call("POST", `/twins/${encodeURIComponent(deviceId)}/methods`, { methodName, payload, responseTimeoutInSeconds: timeoutSec })
    }

    /** `certificate`: PEM or base64 DER. */
    uploadCaCertificate(name: string, certificate: string, options: { verified?: boolean } = {}): Promise<CaCertificateView> {
        return this.call("PUT", `/certificates/${encodeURIComponent(name)}`, { certificate, isVerified: options.verified ?? false })
    }
    listCaCertificates(): Promise<CaCertificateView[]> {
        return this.call("GET", "/certificates")
    }
    getCaCertificate(name: string): Promise<CaCertificateView> {
        return this.call("GET", `/certificates/${encodeURIComponent(name)}`)
    }
    generateVerificationCode(name: string): Promise<{ name: string; verificationCode: string }> {
        return this.call("POST", `/certificates/${encodeURIComponent(name)}/generateVerificationCode`)
    }
    verifyCaCertificate(name: string, verificationCertificate: string): Promise<CaCertificateView> {
        return this.call("POST", `/certificates/${encodeURIComponent(name)}/verify`, { certificate: verificationCertificate })
    }
    deleteCaCertificate(name: string): Promise<void> {
        return this.call("DELETE", `/certificates/${encodeURIComponent(name)}`)
    }

    /**
     * IoT Hub's or DPS's own service REST API (what the official SDKs call), `path` without its api-version; the
     * token names the hub with iothubowner, or the DPS host name with provisioningserviceowner.
     */
    azure(api: "hub" | "dps", method: string, path: string, body?: unknown, ifMatch?: string): Promise<any> {
        const [sr, skn, version] = api === "hub" ? [this.o.hub, SERVICE_POLICY, "2021-04-12"] : [this.o.host, DPS_SERVICE_POLICY, "2021-10-01"]
        const headers: Record<string, string> = ifMatch ? { "If-Match": `"${ifMatch}"` } : {}
        return this.call(method, `${path}?api-version=${version}`, body, { sr, skn, headers })
    }

    /** Streams telemetry (one object per message) until the returned stop() is called or the emulator goes away. */
    monitorEvents(onMessage: (m: any) => void, deviceId?: string): Promise<{ stop(): void; ended: Promise<void> }> {
        const query = deviceId ? `?deviceId=${encodeURIComponent(deviceId)}` : ""
        return new Promise((resolve, reject) => {
            const req = this.request("GET", `/events${query}`, undefined, (res) => {
                if (res.statusCode !== 200) return collect(res).then((text) => reject(toError(res.statusCode!, text)), reject)
                let pending = ""
                res.setEncoding("utf8")
                res.on("data", (chunk: string) => {
                    pending += chunk
                    const lines = pending.split("\n")
                    pending = lines.pop()!
                    for (const line of lines) if (line) onMessage(JSON.parse(line))
                })
                const ended = new Promise<void>((done) => res.on("close", () => done()))
                resolve({ stop: () => req.destroy(), ended })
            })
            req.on("error", reject)
            req.end()
        })
    }

    private call(method: string, path: string, body?: unknown, auth?: RequestAuth): Promise<any> {
        return new Promise((resolve, reject) => {
            const req = this.request(method, path, auth, (res) => {
                collect(res).then((text) => {
                    if (res.statusCode! >= 400) return reject(toError(res.statusCode!, text))
                    resolve(text ? JSON.parse(text) : undefined)
                }, reject)
            })
            req.on("error", reject)
            req.end(body === undefined ? undefined : JSON.stringify(body))
        })
    }

    private request(
        method: string,
        path: string,
        auth: RequestAuth = { sr: this.o.hub, skn: SERVICE_POLICY, headers: {} },
        onResponse: (res: import("http").IncomingMessage) => void
    ) {
        const se = Math.floor(Date.now() / 1000) + (this.o.tokenLifetimeSec ?? 300)
        const token = sasBuildToken(encodeURIComponent(auth.sr), se, this.o.serviceKey, auth.skn)
        return https.request(
            {
                host: this.o.host,
                port: this.o.port,
                method,
                path,
                ca: this.o.ca,
                servername: /^[\d.]+$|:/.test(this.o.host) ? undefined : this.o.host,
                minVersion: "TLSv1.2",
                headers: { ...auth.headers, Authorization: token, "Content-Type": "application/json" },
            },
            onResponse
        )
    }
}

function collect(res: import("http").IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
        res.on("error", reject)
    })
}

/** Who a token is for: the resource (sr) and the policy (skn); headers to add. */
interface RequestAuth {
    sr: string
    skn: string
    headers: Record<string, string>
}

function toError(status: number, text: string): ServiceRequestError {
    try {
        const e = JSON.parse(text)
        // IoT Hub's REST API writes {"Message": "ErrorCode:<name>;<text>"}.
        const hub = typeof e.Message === "string" ? /^ErrorCode:([^;]*);(.*)$/s.exec(e.Message) : null
        if (hub) return new ServiceRequestError(status, undefined, `${status} ${hub[1]}: ${hub[2]}`)
        return new ServiceRequestError(status, e.errorCode, `${status} ${e.errorCode}: ${e.message}`)
    } catch {
        return new ServiceRequestError(status, undefined, `${status}: ${text}`)
    }
}
