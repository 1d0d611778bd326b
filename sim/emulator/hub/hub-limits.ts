// What the hubs' service side refuses before anything reaches a device, with IoT Hub's error codes:
// direct method names and payloads, C2D messages (size counted as IoT Hub counts it, property
// characters) and anything whose MQTT topic would not fit. Plain functions: a problem or undefined.
// Sources in README ("Limits").
import { HubServiceError } from "./methods"
import { MQTT_MAX_TOPIC_BYTES } from "../transport/mqtt-connection"

export const METHOD_MAX_PAYLOAD_BYTES = 128 * 1024
export const METHOD_MAX_NAME_LENGTH = 128
export const C2D_MAX_MESSAGE_BYTES = 64 * 1024
const MESSAGE_ID_MAX_LENGTH = 128

// Printable US-ASCII but $ ( ) < > @ , ; : \ " / [ ] ? = { } (IoT Hub's direct method note) and
// MQTT's wildcards # + (the name is a topic level).
const METHOD_NAME = /^[!%&'*\-.0-9A-Z^_`a-z|~]+$/
// ASCII alphanumerics and ! # $ % & ' * + - . ^ _ ` | ~ (IoT Hub message properties sent by the service).
const PROPERTY_TEXT = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]*$/
// IoT Hub's message-id: alphanumerics and - : . + % _ # * ? ! ( ) , = @ ; $ '
const MESSAGE_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']+$/

/** Throws 400004 for a name IoT Hub would not take; the topic it goes in then always fits. */
export function checkMethodName(name: string): void {
    if (!METHOD_NAME.test(name) || name.length > METHOD_MAX_NAME_LENGTH)
        throw new HubServiceError(
            400004,
            `invalid method name ${JSON.stringify(name.length > 64 ? name.slice(0, 64) + "..." : name)}: 1-${METHOD_MAX_NAME_LENGTH} printable ASCII characters, none of $()<>@,;:\\"/[]?={}#+ or space`
        )
}

/** Throws 413001 for a request payload over 128 KB (as JSON). */
export function checkMethodPayload(payload: unknown): void {
    const bytes = Buffer.byteLength(JSON.stringify(payload ?? null))
    if (bytes > METHOD_MAX_PAYLOAD_BYTES) throw new HubServiceError(413001, `method payload of ${bytes} bytes exceeds ${METHOD_MAX_PAYLOAD_BYTES}`)
}

/**
 * Checks a C2D message as IoT Hub would: property names and values in its character set, a valid
 * message id, and body + system property values + property names and values at most 64 KB (413001).
 */
export function checkC2d(body: Buffer, properties: Record<string, string>, systemProperties: Record<string, string>): void {
    for (const [k, v] of Object.entries(properties))
        if (!k || !PROPERTY_TEXT.test(k) || !PROPERTY_TEXT.test(v))
            throw new HubServiceError(400004, `property ${JSON.stringify(k.slice(0, 64))}: names and values are ASCII letters, digits and !#$%&'*+-.^_\`|~`)
    const id = systemProperties.messageId
    if (id !== undefined && (!MESSAGE_ID.test(id) || id.length > MESSAGE_ID_MAX_LENGTH))
        throw new HubServiceError(400004, `messageId must be 1-${MESSAGE_ID_MAX_LENGTH} characters of letters, digits and -:.+%_#*?!(),=@;$'`)
    let size = body.length
    for (const v of Object.values(systemProperties)) size += Buffer.byteLength(v)
    for (const [k, v] of Object.entries(properties)) size += k.length + v.length
    if (size > C2D_MAX_MESSAGE_BYTES) throw new HubServiceError(413001, `C2D message of ${size} bytes (body and properties) exceeds ${C2D_MAX_MESSAGE_BYTES}`)
}

/** Throws 400004 when a topic would not fit in an MQTT PUBLISH (percent-encoding can triple properties). */
export function checkTopic(topic: string, what: string): void {
    const bytes = Buffer.byteLength(topic)
    if (bytes > MQTT_MAX_TOPIC_BYTES) throw new HubServiceError(400004, `${what} would need an MQTT topic of ${bytes} bytes (at most ${MQTT_MAX_TOPIC_BYTES})`)
}
