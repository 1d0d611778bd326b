// The call DPS makes to a custom allocation webhook: POST the AllocationRequest as JSON, wait at most
// `timeoutMs`, read at most 64 KB of answer. Loopback only (the config checks the URL).
import * as http from "http"
import * as https from "https"

const MAX_ANSWER_BYTES = 64 * 1024

export type WebhookAnswer = { ok: true; status: number; body: string } | { ok: false; reason: string }

export function postAllocationRequest(webhookUrl: string, request: object, timeoutMs: number, ca?: string): Promise<WebhookAnswer> {
    const body = JSON.stringify(request)
    const url = new URL(webhookUrl)
    const transport = url.protocol === "https:" ? https : http
    return new Promise((resolve) => {
        let done = false
        const finish = (a: WebhookAnswer) => {
            if (done) return
            done = true
            clearTimeout(timer)
            resolve(a)
        }
        const req = transport.request(
            url,
            { method: "POST", headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }, ...(ca ? { ca } : {}) },
            (res) => {
                const chunks: Buffer[] = []
                let size = 0
                res.on("data", (c: Buffer) => {
                    size += c.length
                    if (size > MAX_ANSWER_BYTES) {
                        finish({ ok: false, reason: `the webhook's answer is over ${MAX_ANSWER_BYTES} bytes` })
                        req.destroy()
                    } else chunks.push(c)
                })
                res.on("end", () => finish({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
                res.on("error", (e) => finish({ ok: false, reason: e.message }))
            }
        )
        const timer = setTimeout(() => {
            finish({ ok: false, reason: `the webhook did not answer within ${timeoutMs} ms` })
            req.destroy()
        }, timeoutMs)
        req.on("error", (e) => finish({ ok: false, reason: `the webhook is unreachable (${e.message})` }))
        req.end(body)
    })
}
