// A firmware image as a board's flash holds it: bytecode, settings, the TLS trust anchors and,
// for X.509 devices, the client certificate and key.
import * as crypto from "crypto"
import * as fs from "fs"
import { DeviceSettings, encodeSettingsSet, readEnvSettings } from "./device-settings"
import { readImageTls } from "./image-config"

export { readEnvSettings } from "./device-settings"

export interface FirmwareImage {
    bytecode: Buffer
    settings: DeviceSettings
    /** PEM certificates, one per entry: exactly what the device's TLS trusts. */
    trustAnchors: string[]
    clientIdentity?: { cert: string; key: string }
}

export interface LoadImageOptions {
    bytecodeFile: string
    /** `.env` files (e.g. .env.defaults then .env.local), later ones override. */
    envFiles?: string[]
    trustAnchorFiles?: string[]
    /** A bundled board image (npm run build:board): trust anchors and client identity from its configuration partition. */
    boardImageFile?: string
    /** Override the `.env` values. */
    settings?: DeviceSettings
    clientIdentity?: { certFile: string; keyFile: string }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** The certificates of a PEM file (a bundle holds several), each checked to parse. */
export function readPemCertificates(file: string): string[] {
    const certs = fs.readFileSync(file, "utf8").match(PEM_CERT) ?? []
    if (certs.length === 0) throw new Error(`${file}: no PEM certificate found`)
    for (const pem of certs) {
        try {
            new crypto.X509Certificate(pem)
        } catch (e) {
            throw new Error(`${file}: unreadable certificate (${(e as Error).message})`)
        }
    }
    return certs.map((pem) => pem + "\n")
}

function readClientIdentity(files: { certFile: string; keyFile: string }): { cert: string; key: string } {
    const cert = readPemCertificates(files.certFile).join("")
    const key = fs.readFileSync(files.keyFile, "utf8")
    let matches: boolean
    try {
        matches = new crypto.X509Certificate(cert).checkPrivateKey(crypto.createPrivateKey(key))
    } catch (e) {
        throw new Error(`${files.keyFile}: unreadable private key (${(e as Error).message})`)
    }
    if (!matches) throw new Error(`${files.keyFile} is not the key of ${files.certFile}`)
    return { cert, key }
}

/** Throws on any setting the device could not store and read back. */
function checkImageSettings(settings: DeviceSettings): void {
    for (const [key, value] of Object.entries(settings)) encodeSettingsSet(key, value)
}

export function loadImage(opts: LoadImageOptions): FirmwareImage {
    const settings = { ...readEnvSettings(opts.envFiles ?? []), ...opts.settings }
    checkImageSettings(settings)
    const bytecode = fs.readFileSync(opts.bytecodeFile)
    if (opts.boardImageFile) {
        if (opts.trustAnchorFiles || opts.clientIdentity) throw new Error("a board image brings its own trust anchors and identity")
        return { bytecode, settings, ...readImageTls(opts.boardImageFile) }
    }
    return {
        bytecode,
        settings,
        trustAnchors: (opts.trustAnchorFiles ?? []).flatMap(readPemCertificates),
        clientIdentity: opts.clientIdentity && readClientIdentity(opts.clientIdentity),
    }
}
