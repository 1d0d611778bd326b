// A service request's body as text, bounded: past the limit the rest is read and discarded (so the
// caller can still answer 413, as Azure does, instead of a dropped connection; the server's request
// timeout bounds a sender that never stops) and the caller's own "too large" error (each API words
// it its own way) rejects the read.
import * as http from "http"

/** The service endpoint's body limit for every API it serves. */
export const MAX_BODY_BYTES = 128 * 1024

export function readBodyText(req: http.IncomingMessage, tooLarge: () => Error): Promise<string> {
    return new Promise((resolve, reject) => {
        let chunks: Buffer[] | null = []
        let size = 0
        req.on("data", (c: Buffer) => {
            size += c.length
            if (chunks === null) return
            if (size <= MAX_BODY_BYTES) return void chunks.push(c)
            chunks = null
            reject(tooLarge())
        })
        req.on("error", reject)
        req.on("end", () => chunks && resolve(Buffer.concat(chunks).toString("utf8")))
    })
}
