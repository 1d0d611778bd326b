// Unix time from an HTTP `Date` header (RFC 7231 IMF-fixdate), the one clock
// every HTTPS endpoint offers a device that has no RTC.
import { textSplit, textTrim } from "../encoding/text"

const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"

export function httpBuildDateRequest(host: string): string {
    return "HEAD / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
}

/** The value of the Date header in a response head, or null. */
export function httpFindDateHeader(head: string): string {
    const lines = textSplit(head, "\r\n")
    for (const line of lines) {
        const colon = line.indexOf(":")
        if (colon > 0 && textTrim(line.slice(0, colon)).toLowerCase() === "date") return textTrim(line.slice(colon + 1))
    }
    return null
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
    if (m <= 2) y -= 1
    const era = Math.floor(y / 400)
    const yoe = y - era * 400
    const mp = m > 2 ? m - 3 : m + 9
    const doy = Math.floor((153 * mp + 2) / 5) + d - 1
    const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
}

function num(s: string, min: number, max: number): number {
    if (s.length === 0) return -1
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i)
        if (c < 48 || c > 57) return -1
    }
    const n = parseInt(s)
    return n >= min && n <= max ? n : -1
}

/** "Sun, 06 Nov 1994 08:49:37 GMT" -> seconds since the epoch; -1 when malformed. */
export function httpParseImfFixdate(value: string): number {
    const p = textSplit(value, " ")
    if (p.length !== 6 || p[5] !== "GMT") return -1
    const day = num(p[1], 1, 31)
    const mi = p[2].length === 3 ? MONTHS.indexOf(p[2]) : -1
    const year = num(p[3], 1970, 9999)
    const t = textSplit(p[4], ":")
    if (day < 0 || mi < 0 || mi % 3 !== 0 || year < 0 || t.length !== 3) return -1
    const hh = num(t[0], 0, 23)
    const mm = num(t[1], 0, 59)
    const ss = num(t[2], 0, 60)
    if (hh < 0 || mm < 0 || ss < 0) return -1
    return daysFromCivil(year, mi / 3 + 1, day) * 86400 + hh * 3600 + mm * 60 + ss
}
