// Base64 (RFC 4648, standard alphabet, padded). DeviceScript's Buffer has no base64.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const PAD = 61 // "="

export function base64Encode(data: Buffer): string {
    const out = Buffer.alloc(Math.floor((data.length + 2) / 3) * 4)
    let o = 0
    for (let i = 0; i < data.length; i += 3) {
        const rest = data.length - i
        const n = (data[i] << 16) | ((rest > 1 ? data[i + 1] : 0) << 8) | (rest > 2 ? data[i + 2] : 0)
        out[o++] = ALPHABET.charCodeAt((n >> 18) & 63)
        out[o++] = ALPHABET.charCodeAt((n >> 12) & 63)
        out[o++] = rest > 1 ? ALPHABET.charCodeAt((n >> 6) & 63) : PAD
        out[o++] = rest > 2 ? ALPHABET.charCodeAt(n & 63) : PAD
    }
    return out.toString("utf-8")
}

function sextet(c: number): number {
    if (c >= 65 && c <= 90) return c - 65
    if (c >= 97 && c <= 122) return c - 71
    if (c >= 48 && c <= 57) return c + 4
    if (c === 43) return 62
    if (c === 47) return 63
    return -1
}

/** Decodes padded base64; throws on anything else so a mistyped key fails loudly. */
export function base64Decode(text: string): Buffer {
    const src = Buffer.from(text)
    if (src.length % 4 !== 0) throw new Error("base64: length is not a multiple of 4")
    let pad = 0
    if (src.length > 0 && src[src.length - 1] === PAD) pad++
    if (src.length > 1 && src[src.length - 2] === PAD) pad++
    const out = Buffer.alloc((src.length / 4) * 3 - pad)
    let o = 0
    for (let i = 0; i < src.length; i += 4) {
        let n = 0
        for (let j = 0; j < 4; j++) {
            const c = src[i + j]
            const last = i + 4 === src.length
            let v = 0
            if (c === PAD && last && j >= 4 - pad) v = 0
            else {
                v = sextet(c)
                if (v < 0) throw new Error("base64: invalid character")
            }
            n = (n << 6) | v
        }
        if (o < out.length) out[o++] = (n >> 16) & 255
        if (o < out.length) out[o++] = (n >> 8) & 255
        if (o < out.length) out[o++] = n & 255
    }
    return out
}
