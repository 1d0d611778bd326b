// RFC 3986 percent-encoding. The runtime's encodeURIComponent leaves reserved
// characters raw and mangles UTF-8, which the hub punishes by closing the connection.
const HEX = "0123456789ABCDEF"

function isUnreserved(c: number): boolean {
    return (
        (c >= 65 && c <= 90) ||
        (c >= 97 && c <= 122) ||
        (c >= 48 && c <= 57) ||
        c === 45 || // -
        c === 46 || // .
        c === 95 || // _
        c === 126 // ~
    )
}

export function urlEncode(text: string): string {
    const src = Buffer.from(text)
    let len = 0
    for (let i = 0; i < src.length; i++) len += isUnreserved(src[i]) ? 1 : 3
    if (len === src.length) return text
    const out = Buffer.alloc(len)
    let o = 0
    for (let i = 0; i < src.length; i++) {
        const c = src[i]
        if (isUnreserved(c)) out[o++] = c
        else {
            out[o++] = 37 // %
            out[o++] = HEX.charCodeAt(c >> 4)
            out[o++] = HEX.charCodeAt(c & 15)
        }
    }
    return out.toString("utf-8")
}

function hexValue(c: number): number {
    if (c >= 48 && c <= 57) return c - 48
    if (c >= 65 && c <= 70) return c - 55
    if (c >= 97 && c <= 102) return c - 87
    return -1
}

/** Decodes %XX escapes (either case); throws on a broken escape. */
export function urlDecode(text: string): string {
    if (text.indexOf("%") < 0) return text
    const src = Buffer.from(text)
    const out = Buffer.alloc(src.length)
    let o = 0
    for (let i = 0; i < src.length; i++) {
        const c = src[i]
        if (c !== 37) {
            out[o++] = c
            continue
        }
        const hi = i + 2 < src.length ? hexValue(src[i + 1]) : -1
        const lo = i + 2 < src.length ? hexValue(src[i + 2]) : -1
        if (hi < 0 || lo < 0) throw new Error("url: broken percent escape")
        out[o++] = (hi << 4) | lo
        i += 2
    }
    return out.slice(0, o).toString("utf-8")
}
