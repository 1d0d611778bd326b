// `text.split(sep)` for a plain separator, on the runtime's native indexOf: the
// library's String.split is a general 340-byte routine the firmware does not need.

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
