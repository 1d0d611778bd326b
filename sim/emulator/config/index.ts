// The emulator's configuration: a JSON file of public values plus a secrets file of keys
// (git-ignored), validated into one typed object. schema.ts defines it (with the certificate and
// cross-reference checks of certificates.ts and references.ts), validate.ts names its problems,
// load.ts reads its files, secrets.ts merges and generates keys.
export * from "./schema"
export * from "./queries"
export { ConfigError } from "./validate"
export { validateEnrollment } from "./enrollment"
export type { ConfigFiles } from "./certificates"
export { loadConfig, validateConfig } from "./load"
export { SERVICE_SECRET_ID, deviceSecretId, enrollmentsWithoutKeys, generateMissingKeys, policySecretId } from "./secrets"
export type { SecretsFile } from "./secrets"
