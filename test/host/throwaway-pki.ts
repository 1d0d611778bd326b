// Throwaway certificate authorities for host tests, made with the openssl command line
// (the project's own PKI tooling is tested elsewhere; these tests must not depend on it).
import { execFileSync } from "child_process"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"

export interface Issued {
    cert: string
    key: string
    certFile: string
    keyFile: string
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

function openssl(dir: string, args: string[]): void {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] })
}

function read(dir: string, name: string): Issued {
    const certFile = path.join(dir, `${name}.pem`)
    const keyFile = path.join(dir, `${name}.key`)
    return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8"), certFile, keyFile }
}

export function makeWorkDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "host-pki-"))
}

export function makeCa(dir: string, name: string): Issued {
    openssl(dir, ["req", "-x509", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`])
    return read(dir, name)
}

/** A leaf signed by `ca`; `sans` like ["DNS:localhost", "IP:127.0.0.1"]. */
export function issue(dir: string, ca: Issued, name: string, sans: string[]): Issued {
    openssl(dir, ["req", "-new", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`])
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${sans.join(",")}\n`)
    openssl(dir, [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        ca.certFile,
        "-CAkey",
        ca.keyFile,
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        `${name}.pem`,
        "-extfile",
        `${name}.ext`,
    ])
    return read(dir, name)
}
