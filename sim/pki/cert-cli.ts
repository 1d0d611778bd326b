// `npm run certs -- <command>`: X.509 test certificates (sim/pki/cert-tool.ts) from the command line.
// Prints what it wrote, never a key.
import * as path from "path"
import { parseArgs } from "util"
import { X509_CERTS_DIR } from "../paths"
import {
    CertToolOptions,
    DEFAULT_ROOT_CN,
    DEFAULT_VALID_DAYS,
    WrittenCert,
    createDevice,
    createIntermediate,
    createRoot,
    createVerification,
} from "./cert-tool"

const USAGE = `usage: npm run certs -- <command> [options]
  root [COMMON_NAME]                  a root CA (default "${DEFAULT_ROOT_CN}")
  intermediate COMMON_NAME --ca NAME  an intermediate CA signed by CA NAME (it signs devices)
  device REGISTRATION_ID [--ca NAME]  a device certificate, CN = the registration id; self-signed without --ca
  verification CODE --ca NAME         proof of possession: CN = the verification code, signed by CA NAME's key
options:
  --rsa        RSA 2048 keys (default EC P-256)
  --days N     validity in days (default ${DEFAULT_VALID_DAYS}, never past the issuer's)
  --dir DIR    where the files are (default certs/x509)
  --force      replace existing files of the same name
Files: DIR/<name>_cert.pem, <name>_fullchain.pem (certificate, then issuers up to the root), <name>_key.pem (0600).`

interface Command {
    command: string
    words: string[]
    ca?: string
    dir: string
    opts: CertToolOptions
}

/** Node's util.parseArgs, as every command line here: an unknown option or one without its value is refused with the usage. */
export function parse(argv: string[], cwd: string): Command {
    const read = () => {
        try {
            return parseArgs({
                args: argv,
                allowPositionals: true,
                strict: true,
                options: {
                    rsa: { type: "boolean" },
                    force: { type: "boolean" },
                    ca: { type: "string" },
                    days: { type: "string" },
                    dir: { type: "string" },
                    help: { type: "boolean", short: "h" },
                },
            })
        } catch (e) {
            throw new Error(`${(e as Error).message}\n${USAGE}`)
        }
    }
    const parsed = read()
    const v = parsed.values
    if (v.days !== undefined && !/^\d+$/.test(v.days)) throw new Error(`--days needs a whole number, not ${v.days}`)
    const [command, ...rest] = parsed.positionals
    return {
        command: v.help ? "help" : command,
        words: rest,
        ca: v.ca,
        dir: path.resolve(cwd, v.dir ?? X509_CERTS_DIR),
        opts: { algorithm: v.rsa ? "rsa-2048" : "ec-p256", days: v.days === undefined ? undefined : Number(v.days), force: v.force === true },
    }
}

/** The one positional argument a command takes (spaces in a name need quotes). */
function single(c: Command, what: string, optional = false): string | undefined {
    if (c.words.length > 1) throw new Error(`${c.command} takes one ${what}; got ${c.words.map((w) => JSON.stringify(w)).join(" ")} (quote a name with spaces)`)
    if (c.words.length === 0 && !optional) throw new Error(`${c.command} needs a ${what}\n${USAGE}`)
    return c.words[0]
}

function needCa(c: Command): string {
    if (!c.ca) throw new Error(`${c.command} needs --ca NAME (the issuing CA's name)`)
    return c.ca
}

function run(c: Command): Promise<WrittenCert> {
    switch (c.command) {
        case "root":
            if (c.ca) throw new Error("a root is self-signed: root takes no --ca")
            return createRoot(c.dir, single(c, "common name", true), c.opts)
        case "intermediate":
            return createIntermediate(c.dir, single(c, "common name")!, needCa(c), c.opts)
        case "device":
            return createDevice(c.dir, single(c, "registration id")!, c.ca, c.opts)
        case "verification":
            return createVerification(c.dir, single(c, "verification code")!, needCa(c), c.opts)
    }
    throw new Error(c.command ? `unknown command ${c.command}\n${USAGE}` : USAGE)
}

function report(w: WrittenCert, cwd: string): string {
    const shown = (f: string) => (path.relative(cwd, f).startsWith("..") ? f : path.relative(cwd, f))
    const key = w.algorithm === "rsa-2048" ? "RSA 2048" : "EC P-256"
    const signer = w.subject === w.issuer ? "self-signed" : `issued by ${w.issuer}`
    return [
        `${w.kind} certificate ${w.subject} (${key}), ${signer}, valid until ${w.notAfter.toISOString()}`,
        `  cert       ${shown(w.certFile)}`,
        ...(w.fullchainFile ? [`  fullchain  ${shown(w.fullchainFile)}`] : []),
        `  key        ${shown(w.keyFile)} (0600, keep it private)`,
        `  SHA-1      ${w.sha1Thumbprint}`,
        `  SHA-256    ${w.sha256Thumbprint}`,
    ].join("\n")
}

async function main() {
    // npm runs scripts from the project root; relative paths are the user's, from where npm was started.
    const cwd = process.env.INIT_CWD ?? process.cwd()
    const command = parse(process.argv.slice(2), cwd)
    if (command.command === undefined || command.command === "help") return console.log(USAGE)
    console.log(report(await run(command), cwd))
}

if (require.main === module)
    main().catch((e: Error) => {
        console.error(`certs: ${e.message}`)
        process.exit(1)
    })
