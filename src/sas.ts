// Shared access signatures for DPS and IoT Hub (azure-iot-protocol.md section 2).
import { hmac } from "@devicescript/crypto"
import { base64Decode, base64Encode } from "./encoding/base64"
import { urlEncode } from "./encoding/url"

/** base64(HMAC-SHA256(base64decode(key), sr + "\n" + se)); `sr` exactly as it will appear in the token. */
export function sasSign(keyBase64: string, sr: string, se: number): string {
    return base64Encode(hmac(base64Decode(keyBase64), "sha256", sr + "\n" + se))
}

/** A token with fields in the Node SDK's order: sr, sig, [skn], se. */
export function sasBuildToken(sr: string, keyBase64: string, se: number, skn?: string): string {
    const sig = urlEncode(sasSign(keyBase64, sr, se))
    const name = skn ? "&skn=" + skn : ""
    return "SharedAccessSignature sr=" + sr + "&sig=" + sig + name + "&se=" + se
}

/** The device key of a symmetric-key enrollment group member. */
export function sasDeriveDeviceKey(groupKeyBase64: string, registrationId: string): string {
    return base64Encode(hmac(base64Decode(groupKeyBase64), "sha256", registrationId))
}

/** DPS password: `sr={idScope}/registrations/{registrationId}` sent raw, `skn=registration`. */
export function sasBuildDpsToken(idScope: string, registrationId: string, keyBase64: string, se: number): string {
    return sasBuildToken(idScope + "/registrations/" + registrationId, keyBase64, se, "registration")
}

/** Hub password: `sr` is the URL-encoded `{hub}/devices/{deviceId}`, no `skn`. */
export function sasBuildHubToken(hubHostName: string, deviceId: string, keyBase64: string, se: number): string {
    return sasBuildToken(urlEncode(hubHostName + "/devices/" + deviceId), keyBase64, se)
}
