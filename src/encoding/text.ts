// Plain-text helpers on the runtime's native indexOf/charCodeAt, in place of the
// library's String.split (a general 340-byte routine) and String.trim (which
// carries a 62-byte table of Unicode spaces): the firmware needs neither's generality.

/** The pieces of `text` between occurrences of `sep` (non-empty), as `String.split` gives them. */
export function textSplit(text: string, sep: string): string[] {
    const out: string[] = []
    let from = 0
    for (;;) {
        const i = text.indexOf(sep, from)
        if (i < 0) {
            out.push(text.slice(from))
            return out
        }
        out.push(text.slice(from, i))
        from = i + sep.length
    }
}

/** `text` without leading and trailing ASCII spaces and control characters (settings, HTTP header values). */
export function textTrim(text: string): string {
    let a = 0
    let b = text.length
    for (; a < b && text.charCodeAt(a) <= 32; a++);
    for (; b > a && text.charCodeAt(b - 1) <= 32; b--);
    return text.slice(a, b)
}
