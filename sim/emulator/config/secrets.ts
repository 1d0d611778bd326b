// Keys live apart from the configuration, in a git-ignored secrets file: merged into the
// configuration's input before validation, and generated (then saved) for whatever has none, as
// `az iot dps enrollment create` / `az iot hub device-identity create` do.
import * as fs from "fs"
import { randomBytes } from "crypto"
import { readJson, writePrivateJson } from "./json-file"
import { enrollmentId } from "./queries"
import { EmulatorConfig, Enrollment } from "./schema"
import { ConfigError } from "./validate"

type Keys = { primaryKey: string; secondaryKey: string }
export type SecretsFile = Record<string, Keys>

/** Where a hub policy's keys live in the secrets file. */
export const policySecretId = (hub: string, keyName: string) => `hubs/${hub}/${keyName}`
/** Where the service policy's keys live in the secrets file. */
export const SERVICE_SECRET_ID = "$iothubowner"
/** Where a configured device's keys live in the secrets file. */
export const deviceSecretId = (deviceId: string) => `devices/${deviceId}`

export function readSecrets(file: string): SecretsFile {
    if (!fs.existsSync(file)) return {}
    const secrets = readJson(file)
    if (typeof secrets !== "object" || secrets === null || Array.isArray(secrets))
        throw new ConfigError(`${file} must map enrollment ids to { primaryKey, secondaryKey }`)
    return secrets as SecretsFile
}

/** Keys from the secrets file fill in keys the config file leaves out (on the raw input: validation checks them all). */
export function withSecrets(raw: any, secrets: SecretsFile): any {
    if (typeof raw !== "object" || raw === null) return raw
    const fill = (o: any, s?: Keys) => (s ? { ...o, primaryKey: o?.primaryKey ?? s.primaryKey, secondaryKey: o?.secondaryKey ?? s.secondaryKey } : o)
    const sas = (d: any) => d?.authentication === undefined || d.authentication?.type === "sas"
    const devices = Array.isArray(raw.devices) ? raw.devices.map((d: any) => (sas(d) ? fill(d, secrets[deviceSecretId(d?.deviceId)]) : d)) : raw.devices
    const service = fill(raw.service ?? {}, secrets[SERVICE_SECRET_ID])
    const hubs = !Array.isArray(raw.hubs)
        ? raw.hubs
        : raw.hubs.map((h: any) =>
              !Array.isArray(h?.authorizationPolicies)
                  ? h
                  : { ...h, authorizationPolicies: h.authorizationPolicies.map((p: any) => fill(p, secrets[policySecretId(h.hostName, p?.keyName)])) }
          )
    const enrollments = !Array.isArray(raw.enrollments)
        ? raw.enrollments
        : raw.enrollments.map((e: any) => {
              const s = secrets[e?.registrationId ?? e?.enrollmentGroupId]
              if (!s || e.attestation?.type === "x509") return e
              return { ...e, attestation: fill(e.attestation ?? {}, s) }
          })
    return { ...raw, hubs, enrollments, devices, service }
}

function newKey(): string {
    return randomBytes(64).toString("base64")
}

/**
 * Random 64-byte keys for SAS enrollments, devices, hub policies and the service policy that have
 * none, saved to the secrets file (0600, merged with what it holds). Returns the completed config.
 */
export function generateMissingKeys(config: EmulatorConfig, secretsFile: string): EmulatorConfig {
    const secrets = readSecrets(secretsFile)
    let changed = false
    const complete = <T extends { primaryKey?: string; secondaryKey?: string }>(id: string, keys: T): T => {
        if (keys.primaryKey && keys.secondaryKey) return keys
        const saved = secrets[id]
        const primaryKey = keys.primaryKey ?? saved?.primaryKey ?? newKey()
        const secondaryKey = keys.secondaryKey ?? saved?.secondaryKey ?? newKey()
        if (!saved || saved.primaryKey !== primaryKey || saved.secondaryKey !== secondaryKey) {
            secrets[id] = { primaryKey, secondaryKey }
            changed = true
        }
        return { ...keys, primaryKey, secondaryKey }
    }
    // X.509 enrollments and devices have no keys.
    const enrollments = config.enrollments.map((e) =>
        e.attestation.type === "symmetricKey" ? ({ ...e, attestation: complete(enrollmentId(e), e.attestation) } as Enrollment) : e
    )
    const devices = config.devices.map((d) => (d.authentication.type === "sas" ? complete(deviceSecretId(d.deviceId), d) : d))
    const service = complete(SERVICE_SECRET_ID, config.service)
    const hubs = config.hubs.map((h) => ({
        ...h,
        authorizationPolicies: h.authorizationPolicies.map((p) => complete(policySecretId(h.hostName, p.keyName), p)),
    }))
    if (changed) writePrivateJson(secretsFile, secrets)
    return { ...config, hubs, enrollments, devices, service }
}

/** The SAS enrollments and devices that still have no primary key (the emulator refuses to start with any). */
export function enrollmentsWithoutKeys(config: EmulatorConfig): string[] {
    const devices = config.devices.filter((d) => d.authentication.type === "sas" && !d.primaryKey).map((d) => deviceSecretId(d.deviceId))
    const enrollments = config.enrollments.filter((e) => e.attestation.type === "symmetricKey" && !e.attestation.primaryKey)
    return [...enrollments.map(enrollmentId), ...devices]
}
