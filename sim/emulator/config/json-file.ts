// Reading and writing the configuration's JSON files; a problem with one is a ConfigError.
import * as fs from "fs"
import * as path from "path"
import { ConfigError } from "./validate"

export function readJson(file: string): unknown {
    let text: string
    try {
        text = fs.readFileSync(file, "utf8")
    } catch (e) {
        throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`)
    }
    try {
        return JSON.parse(text)
    } catch (e) {
        throw new ConfigError(`${file} is not valid JSON: ${(e as Error).message}`)
    }
}

/** Writes `value` readable by its owner only (0600), replacing the file at once so a crash leaves the old one. */
export function writePrivateJson(file: string, value: unknown): void {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 })
    fs.renameSync(tmp, file)
}
