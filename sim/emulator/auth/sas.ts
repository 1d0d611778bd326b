// Shared access signatures as the services check them (azure-iot-protocol.md section 2):
// fields in any order and case, HMAC over the raw `sr` as sent, constant-time compare,
// 5 minutes of clock skew. Results carry reasons for logs; never keys or signatures.
import { createHmac, timingSafeEqual } from "crypto"

export const SAS_SKEW_SEC = 300
const PREFIX = "sharedaccesssignature "

export interface SasToken {
    /** The resource exactly as it appears in the token (still URL-encoded if the client encoded it). */
    sr: string
    /** The URL-decoded signature (base64). */
    sig: string
    se: number
    skn?: string
}

export type SasParseResult = { ok: true; token: SasToken } | { ok: false; reason: string }

export interface SasExpectation {
    /** The decoded resource, compared case-insensitively, e.g. `0ne00000A0A/registrations/dev-01`. */
    resource: string
    /** The required key name, or null when the token must carry none. */
    skn: string | null
    /** The key name may also be left out (DPS: `skn=registration` or none, azure-iot-protocol.md section 1). */
    sknOptional?: boolean
}

/** Which enrolled key signed the token. */
export type SasKeyName = "primary" | "secondary"

export type SasVerifyResult = { ok: true; key: SasKeyName } | { ok: false; reason: string }

export interface SasKeys {
    primaryKey: string
    secondaryKey?: string
}

export function sasSign(srRaw: string, se: number, keyBase64: string): string {
    return createHmac("sha256", Buffer.from(keyBase64, "base64")).update(`${srRaw}\n${se}`).digest("base64")
}

/** A token as the Node SDK writes it (field order sr, sig, se, skn); `srRaw` is used verbatim. */
export function sasBuildToken(srRaw: string, se: number, keyBase64: string, skn?: string): string {
    const sig = encodeURIComponent(sasSign(srRaw, se, keyBase64))
    return `SharedAccessSignature sr=${srRaw}&sig=${sig}&se=${se}` + (skn ? `&skn=${encodeURIComponent(skn)}` : "")
}

/** Group enrollment: a device's key is HMAC-SHA256(group key, registration id). */
export function sasDeriveDeviceKey(groupKeyBase64: string, registrationId: string): string {
    return createHmac("sha256", Buffer.from(groupKeyBase64, "base64")).update(registrationId).digest("base64")
}

function urlDecode(s: string): string | undefined {
    try {
        return decodeURIComponent(s)
    } catch {
        return undefined
    }
}

export function sasParse(text: string): SasParseResult {
    if (text.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return { ok: false, reason: "not a SharedAccessSignature" }
    const fields = new Map<string, string>()
    for (const part of text.slice(PREFIX.length).split("&")) {
        const eq = part.indexOf("=")
        if (eq <= 0) return { ok: false, reason: "malformed field in token" }
        const name = part.slice(0, eq).toLowerCase()
        if (fields.has(name)) return { ok: false, reason: `field ${name} repeated` }
        fields.set(name, part.slice(eq + 1))
    }
    const sr = fields.get("sr")
    const sigEncoded = fields.get("sig")
    const seText = fields.get("se")
    if (!sr || !sigEncoded || !seText) return { ok: false, reason: "token lacks sr, sig or se" }
    if (!/^\d{1,12}$/.test(seText)) return { ok: false, reason: "se is not a decimal number" }
    const sig = urlDecode(sigEncoded)
    if (sig === undefined) return { ok: false, reason: "sig is not URL-encoded correctly" }
    const sknRaw = fields.get("skn")
    const skn = sknRaw === undefined ? undefined : urlDecode(sknRaw)
    if (sknRaw !== undefined && skn === undefined) return { ok: false, reason: "skn is not URL-encoded correctly" }
    return { ok: true, token: { sr, sig, se: Number(seText), skn } }
}

function sameText(a: string, b: string): boolean {
    const x = Buffer.from(a)
    const y = Buffer.from(b)
    return x.length === y.length && timingSafeEqual(x, y)
}

/** Everything but the signature: resource, key name and expiry (allowing `skewSec` of clock skew). */
export function sasCheckClaims(token: SasToken, expect: SasExpectation, nowSec: number, skewSec = SAS_SKEW_SEC): string | undefined {
    const resource = urlDecode(token.sr)
    if (resource === undefined) return "sr is not URL-encoded correctly"
    if (resource.toLowerCase() !== expect.resource.toLowerCase()) return `sr ${JSON.stringify(resource)} does not name ${JSON.stringify(expect.resource)}`
    if (expect.skn === null && token.skn !== undefined) return "unexpected skn"
    if (expect.skn !== null && token.skn !== expect.skn && !(expect.sknOptional && token.skn === undefined))
        return `skn must be ${expect.skn}${expect.sknOptional ? " or absent" : ""}`
    if (token.se + skewSec < nowSec) return `token expired ${nowSec - token.se} s ago`
    return undefined
}

/** Primary key first, then secondary: either one may sign, as in the cloud. */
export function sasMatchKey(token: SasToken, keys: SasKeys): SasKeyName | undefined {
    if (sameText(token.sig, sasSign(token.sr, token.se, keys.primaryKey))) return "primary"
    if (keys.secondaryKey && sameText(token.sig, sasSign(token.sr, token.se, keys.secondaryKey))) return "secondary"
    return undefined
}

export function sasVerify(text: string, expect: SasExpectation, keys: SasKeys, nowSec: number): SasVerifyResult {
    const parsed = sasParse(text)
    if (!parsed.ok) return parsed
    const problem = sasCheckClaims(parsed.token, expect, nowSec)
    if (problem) return { ok: false, reason: problem }
    const key = sasMatchKey(parsed.token, keys)
    return key ? { ok: true, key } : { ok: false, reason: "signature does not match the enrolled keys" }
}
