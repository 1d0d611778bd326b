// How a backend's tests point the official service SDKs (azure-iothub, azure-iot-provisioning-service)
// at the emulator without patching them: each takes a RestApiClient as its documented second
// constructor argument, and azure-iot-http-base's RestApiClient takes the HTTP transport as its
// third. The transport here is that package's own Http, given the `port` request option its
// buildRequest honours (SRS_NODE_HTTP_13_006) and the CA to trust (its `ca` option): Azure listens
// on 443, the emulator on a loopback port of its own. Host name, TLS and certificate checks stay as the SDK does them.
import { Http, RestApiClient } from "azure-iot-http-base"
import { ConnectionString, SharedAccessSignature } from "azure-iot-common"

class EmulatorHttp extends Http {
    constructor(
        private readonly port: number,
        private readonly ca: string
    ) {
        super()
        super.setOptions({ ca })
    }

    buildRequest(...[method, path, headers, host, options, done]: Parameters<Http["buildRequest"]>): ReturnType<Http["buildRequest"]> {
        const callback = typeof options === "function" ? options : done!
        return super.buildRequest(method, path, headers, host, { port: this.port }, callback)
    }

    /** Clients set their own options (azure-iothub's Client a keep-alive agent); the CA stays. */
    setOptions(options: any): void {
        super.setOptions({ ...options, ca: this.ca })
    }
}

/**
 * What a service SDK's fromConnectionString would build for `HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`
 * (its config), and a RestApiClient sending to `port` on that host.
 */
export function emulatorRestClient(connectionString: string, port: number, ca: string): { config: RestApiClient.TransportConfig; client: RestApiClient } {
    const cn = ConnectionString.parse(connectionString, ["HostName", "SharedAccessKeyName", "SharedAccessKey"])
    const expiry = Math.floor(Date.now() / 1000) + 3600
    const config = {
        host: cn.HostName!,
        sharedAccessSignature: SharedAccessSignature.create(cn.HostName!, cn.SharedAccessKeyName!, cn.SharedAccessKey!, expiry),
    }
    return { config, client: new RestApiClient(config, "azure-iot-devicescript-emulator-tests", new EmulatorHttp(port, ca)) }
}
