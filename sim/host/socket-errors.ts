// Turns Node's socket and TLS errors into the one-line reasons the firmware sees and logs.

const UNTRUSTED = new Set([
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "CERT_UNTRUSTED",
    "CERT_SIGNATURE_FAILURE",
])

const REASONS: Record<string, string> = {
    ERR_TLS_CERT_ALTNAME_INVALID: "hostname mismatch",
    CERT_HAS_EXPIRED: "certificate expired",
    CERT_NOT_YET_VALID: "certificate not yet valid",
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset by peer",
    ENOTFOUND: "host not found",
    ETIMEDOUT: "connection timed out",
    EPIPE: "connection closed by peer",
}

/**
 * One line, `<name>: <reason> (<code>)`, e.g. `tls://localhost:8883: hostname mismatch (ERR_TLS_CERT_ALTNAME_INVALID)`.
 * OpenSSL's own messages span lines and name source files; its short `reason` is used instead.
 */
export function describeSocketError(name: string, err: Error & { code?: string; reason?: string }): string {
    const code = err.code
    const detail = (err.reason ?? err.message).replace(/\s+/g, " ").trim()
    if (!code) return `${name}: ${detail}`
    if (UNTRUSTED.has(code)) return `${name}: certificate not trusted by the image (${code})`
    const known = REASONS[code]
    if (known) return `${name}: ${known} (${code})`
    if (code.startsWith("ERR_SSL_") || code === "EPROTO") return `${name}: TLS handshake failed: ${detail} (${code})`
    return `${name}: ${detail} (${code})`
}
