// `npm run build:board -- <board> [--runtime FILE] [--trust PEM]... [--x509] [--device-secrets]`:
// the firmware's bytecode, then the board's flashable image (see sim/board-image.ts).
import * as fs from "fs"
import * as path from "path"
import { parseArgs } from "util"
import { buildFirmware } from "./host/build"
import { readEnvSettings } from "./host/image"
import { ESP32_CONFIG_OFFSET, decodeImageConfig, imageTlsFromConfig } from "./host/image-config"
import { buildBoardImage, readBoardFile, runtimeImageName } from "./board-image"
import { certFiles } from "./pki/cert-tool"
import { AZURE_ROOT_CAS, ENV_DEFAULTS, ENV_LOCAL, FIRMWARE_ENTRY, FIRMWARE_IMAGE, ROOT, X509_CERTS_DIR } from "./paths"

const RUNTIME_RELEASES = "https://github.com/microsoft/devicescript-esp32/releases/latest/download/"

function rel(p: string): string {
    return path.relative(ROOT, p)
}

async function main() {
    const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: {
            runtime: { type: "string" },
            trust: { type: "string", multiple: true },
            x509: { type: "boolean", default: false },
            "device-secrets": { type: "boolean", default: false },
            out: { type: "string" },
        },
    })
    if (positionals.length !== 1)
        throw new Error("usage: npm run build:board -- <board id> [--runtime FILE] [--trust PEM]... [--x509] [--device-secrets] [--out FILE]")
    const boardId = positionals[0]
    const board = readBoardFile(boardId)
    // Compiling also validates every board file in boards/ (pins, reserved GPIOs, productId).
    const fw = await buildFirmware(FIRMWARE_ENTRY, FIRMWARE_IMAGE)
    console.log(`board ${boardId}: bytecode ${rel(fw.outFile)} (${fw.bytes} bytes; the same program for every board)`)

    const runtimeName = runtimeImageName(board.archId)
    const runtime = values.runtime ?? path.join(ROOT, ".devicescript", "cache", runtimeName)
    if (!fs.existsSync(runtime))
        throw new Error(`no runtime image ${rel(runtime)}: download ${RUNTIME_RELEASES}${runtimeName} there (or pass --runtime FILE); the image was not built`)
    const envFiles = values["device-secrets"] ? [ENV_DEFAULTS, ENV_LOCAL] : [ENV_DEFAULTS]
    const settings = readEnvSettings(envFiles)
    const identity = values.x509 ? certFiles(X509_CERTS_DIR, String(settings.REG_ID)) : undefined
    if (identity && !fs.existsSync(identity.fullchainFile))
        throw new Error(`--x509: no ${rel(identity.fullchainFile)} (npm run certs -- device ${settings.REG_ID} --ca <CA>)`)
    const outFile = values.out ?? path.join(ROOT, "build", "images", `${boardId}${identity || values["device-secrets"] ? `-${settings.REG_ID}` : ""}-0x0.bin`)
    const image = await buildBoardImage({
        board: boardId,
        trustAnchorFiles: [...AZURE_ROOT_CAS, ...(values.trust ?? [])],
        clientIdentity: identity && { certFile: identity.fullchainFile, keyFile: identity.keyFile },
        envFiles,
        runtimeImage: runtime,
        outFile,
    })
    const buf = fs.readFileSync(image.outFile)
    const configBytes = buf.readUInt32LE(ESP32_CONFIG_OFFSET + 8)
    const tls = imageTlsFromConfig(decodeImageConfig(buf, ESP32_CONFIG_OFFSET))
    console.log(
        `board ${boardId}: image ${rel(image.outFile)} (${image.bytes} bytes; configuration ${configBytes} of 8192 bytes at 0x9000:` +
            ` ${tls.trustAnchors.length} trust anchor(s)${tls.clientIdentity ? ", client certificate and key" : ""}; settings from ${envFiles.map(rel).join(" + ")})`
    )
    // The CLI takes the flash offset from the file name's -0x0.bin suffix.
    console.log(`flash it: npx devs flash --board ${boardId} --file ${rel(image.outFile)}   (or esptool.py write_flash 0x0 ${rel(image.outFile)})`)
}

main().catch((e: Error) => {
    console.error(`build:board: ${e.message}`)
    process.exit(1)
})
