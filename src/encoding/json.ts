// JSON string quoting that keeps UTF-8 intact (the runtime's JSON.stringify
// corrupts non-ASCII text).
const HEX = "0123456789abcdef"

export function jsonQuote(text: string): string {
    const src = Buffer.from(text)
    let len = 2
    for (let i = 0; i < src.length; i++) {
        const c = src[i]
        len += c === 34 || c === 92 ? 2 : c < 32 ? 6 : 1
    }
    const out = Buffer.alloc(len)
    let o = 0
    out[o++] = 34
    for (let i = 0; i < src.length; i++) {
        const c = src[i]
        if (c === 34 || c === 92) {
            out[o++] = 92
            out[o++] = c
        } else if (c < 32) {
            out.blitAt(o, "\\u00", 0, 4)
            o += 4
            out[o++] = HEX.charCodeAt(c >> 4)
            out[o++] = HEX.charCodeAt(c & 15)
        } else out[o++] = c
    }
    out[o++] = 34
    return out.toString("utf-8")
}
