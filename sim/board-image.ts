// A flashable image for a board in boards/, made by the pinned CLI's `devs bundle`: the runtime image
// with the board's configuration (pins, parts, and here the TLS trust anchors and, for X.509, the
// device's certificate chain and key) in its configuration partition, and the program with its
// settings in the storage area. The CLI reads boards and settings from its working directory, so the
// bundle runs in a private staging directory holding exactly what this image should carry.
import * as crypto from "crypto"
import * as fs from "fs"
import * as os from "os"
import * as path from "path"
import { runCliLocked } from "./host/build"
import { readPemCertificates } from "./host/image"
import { ENV_DEFAULTS, ENV_LOCAL, ROOT } from "./paths"

export const BOARDS_DIR = path.join(ROOT, "boards")
/** The runtime's configuration partition is 8 KB (devicescript-esp32's partition table, 0x9000). */
export const CONFIG_PARTITION_BYTES = 8 * 1024

export interface BoardImageOptions {
    board: string
    /** PEM files whose certificates the board's TLS trusts (the runtime adds its public bundle). */
    trustAnchorFiles: string[]
    /** X.509 devices: the certificate chain (leaf first) and PKCS#8 key; makes a per-device image. */
    clientIdentity?: { certFile: string; keyFile: string }
    /** `.env.defaults` always; `.env.local` (secrets) only for a per-device image. */
    envFiles?: string[]
    /** The stock runtime image for the board's chip (devicescript-<chip>-<chip>_bare-0x0.bin). */
    runtimeImage: string
    outFile: string
}

export interface BoardFile {
    archId: string
    [key: string]: unknown
}

export function readBoardFile(board: string): BoardFile {
    const file = path.join(BOARDS_DIR, `${board}.board.json`)
    if (!fs.existsSync(file)) {
        const known = fs
            .readdirSync(BOARDS_DIR)
            .filter((f) => f.endsWith(".board.json"))
            .map((f) => f.replace(".board.json", ""))
        throw new Error(`no board ${board} (boards/: ${known.join(", ")})`)
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as BoardFile
}

/** The runtime image file name the CLI looks for in .devicescript/cache/ for a custom board of `archId`. */
export function runtimeImageName(archId: string): string {
    return `devicescript-${archId}-${archId}_bare-0x0.bin`
}

/**
 * The board file plus the image's TLS material as PEM strings, flattened by the CLI to the keys
 * sim/host/image-config.ts and the runtime patch read: tls.ca<i>, tls.cert<i>, tls.key. Strings, not
 * DER blobs: the pinned CLI's configuration writer compares blob values by reference when it verifies
 * its output, so any blob fails ("mismatch at ..."); PEM is NUL-terminated there, as mbedTLS wants it.
 */
export function boardWithTls(board: BoardFile, anchors: string[], identity?: { chain: string[]; keyPem: string }): BoardFile {
    const tls: Record<string, unknown> = { ca: anchors }
    if (identity) {
        tls.cert = identity.chain
        tls.key = crypto.createPrivateKey(identity.keyPem).export({ format: "pem", type: "pkcs8" }).toString()
    }
    return { ...board, tls }
}

export async function buildBoardImage(opts: BoardImageOptions): Promise<{ outFile: string; bytes: number }> {
    const board = readBoardFile(opts.board)
    const anchors = opts.trustAnchorFiles.flatMap(readPemCertificates)
    const identity = opts.clientIdentity && {
        chain: readPemCertificates(opts.clientIdentity.certFile),
        keyPem: fs.readFileSync(opts.clientIdentity.keyFile, "utf8"),
    }
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), `board-image-${opts.board}-`))
    try {
        fs.chmodSync(stage, 0o700)
        for (const name of ["src", "node_modules"]) fs.symlinkSync(path.join(ROOT, name), path.join(stage, name))
        fs.copyFileSync(path.join(ROOT, "package.json"), path.join(stage, "package.json"))
        fs.writeFileSync(path.join(stage, "devsconfig.json"), "{}\n")
        fs.mkdirSync(path.join(stage, "boards"))
        fs.writeFileSync(path.join(stage, "boards", `${opts.board}.board.json`), JSON.stringify(boardWithTls(board, anchors, identity), null, 2), {
            mode: 0o600,
        })
        const envFiles = opts.envFiles ?? [ENV_DEFAULTS]
        const target = { [ENV_DEFAULTS]: ".env.defaults", [ENV_LOCAL]: ".env.local" }
        for (const f of envFiles) if (fs.existsSync(f)) fs.copyFileSync(f, path.join(stage, target[f] ?? path.basename(f)))
        const cache = path.join(stage, ".devicescript", "cache")
        fs.mkdirSync(cache, { recursive: true })
        // A fresh copy: the CLI downloads again when its cached runtime is more than a day old.
        fs.copyFileSync(opts.runtimeImage, path.join(cache, runtimeImageName(board.archId)))
        fs.mkdirSync(path.dirname(opts.outFile), { recursive: true })
        await runCliLocked(["bundle", "--no-colors", "--board", opts.board, "--flash-file", path.resolve(opts.outFile), "src/main.ts"], stage)
        if (identity) fs.chmodSync(opts.outFile, 0o600)
    } finally {
        fs.rmSync(stage, { recursive: true, force: true })
    }
    return { outFile: opts.outFile, bytes: fs.statSync(opts.outFile).size }
}
