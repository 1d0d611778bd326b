// Log lines stay short whatever a peer sends: a board logs over a slow serial
// port, and a long string costs heap the VM may not have.

/** At most `max` characters of `text`, marked when cut. */
export function logClip(text: string, max: number): string {
    return text.length <= max ? text : text.slice(0, max) + "...(" + text.length + " chars)"
}
