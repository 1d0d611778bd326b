// MQTT topic filter matching with `+` (one level) and `#` (the rest).
import { textSplit } from "../encoding/text"

export function mqttTopicMatches(filter: string, topic: string): boolean {
    const f = textSplit(filter, "/")
    const t = textSplit(topic, "/")
    for (let i = 0; i < f.length; i++) {
        if (f[i] === "#") return i === f.length - 1
        if (i >= t.length) return false
        if (f[i] !== "+" && f[i] !== t[i]) return false
    }
    return f.length === t.length
}
