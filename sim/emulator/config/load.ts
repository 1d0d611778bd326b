// The configuration's files: the JSON file (with keys from the secrets file), and the TLS and
// certificate files it names, relative to its directory. Validation itself reads nothing.
import * as fs from "fs"
import * as path from "path"
import { ConfigFiles } from "./certificates"
import { EmulatorConfig } from "./schema"
import { readSecrets, withSecrets } from "./secrets"
import { readJson } from "./json-file"
import { parseConfig } from "./validate"

const isPem = (v: string) => v.includes("-----BEGIN")

const readers = new Map<string, ConfigFiles>()

/** A TLS or certificate value holding "-----BEGIN" is PEM text itself; anything else a path under `baseDir`. */
export function filesUnder(baseDir: string): ConfigFiles {
    const dir = path.resolve(baseDir)
    let files = readers.get(dir)
    if (!files) {
        files = fileReader(dir)
        readers.set(dir, files)
    }
    return files
}

function fileReader(baseDir: string): ConfigFiles {
    const resolve = (v: string) => (isPem(v) ? v : path.resolve(baseDir, v))
    return {
        resolve,
        read(v) {
            if (isPem(v)) return v
            try {
                return fs.readFileSync(resolve(v), "utf8")
            } catch (e) {
                throw new Error(`cannot read ${v}: ${(e as Error).message}`)
            }
        },
    }
}

/** Validates a configuration given in code; paths in it are relative to `baseDir`. */
export function validateConfig(raw: unknown, baseDir = process.cwd()): EmulatorConfig {
    return parseConfig(raw, filesUnder(baseDir))
}

export function loadConfig(configFile: string, secretsFile?: string): EmulatorConfig {
    const secrets = secretsFile ? readSecrets(secretsFile) : {}
    return validateConfig(withSecrets(readJson(configFile), secrets), path.dirname(path.resolve(configFile)))
}
