// Log lines stay short whatever a peer sends: a board logs over a slow serial
// port, and a long string costs heap the VM may not have.

/** At most `max` characters of `text`, marked when cut. */
export function logClip(text: string, max: number): string {
    return text.length <= max ? text : text.slice(0, max) + "...(" + text.length + " chars)"
}

/** At most `max` bytes of `buf` from `start` on as text, marked when cut: a long payload is never made a string whole. */
export function logClipBytes(buf: Buffer, start: number, max: number): string {
    const size = buf.length - start
    // Buffer.slice zero-pads past the end instead of clamping.
    const text = buf.slice(start, start + Math.min(size, max)).toString("utf-8")
    return size <= max ? text : text + "...(" + size + " bytes)"
}
