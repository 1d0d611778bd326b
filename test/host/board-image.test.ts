// Offline: the pinned CLI bundles a board image from a stand-in runtime image, and the result is
// decoded: the board file and the TLS material in the configuration partition (0x9000), the program
// and its settings in the storage area (0x1c0000), no secret where it must not be; and the
// simulator's image loader takes the trust anchors and identity from those same bytes, with which the
// device provisions against the emulator.
import * as assert from "assert"
import * as crypto from "crypto"
import * as fs from "fs"
import * as path from "path"
import { buildBoardImage, readBoardFile } from "../../sim/board-image"
import { ESP32_CONFIG_OFFSET, TLS_CA_KEY, TLS_CERT_KEY, TLS_KEY_KEY, decodeImageConfig } from "../../sim/host/image-config"
import { loadImage, readPemCertificates } from "../../sim/host/image"
import { AZURE_ROOT_CAS, FIRMWARE_IMAGE, ROOT } from "../../sim/paths"
import { RunningEmulator, startTestEmulator, tempDir } from "../support/emulator"
import { bootDevice, provisioningOutcome } from "../e2e/harness"
import { issue, makeCa, makeWorkDir } from "./throwaway-pki"

/** esp32s3 arch (the pinned CLI's boards data): storage area offset and size. */
const FSTOR_OFFSET = 0x1c0000
const FSTOR_BYTES = 64 * 4096

function fingerprints(pems: string[]): string[] {
    return pems.map((p) => new crypto.X509Certificate(p).fingerprint256)
}

describe("board image (devs bundle) decoded", function () {
    this.timeout(60000)
    const dir = tempDir("board-image")
    const deviceKey = crypto.randomBytes(32).toString("base64")
    let image: Buffer
    let outFile: string
    let pki: { chainFile: string; keyFile: string; key: string; chain: string[] }
    let emu: RunningEmulator
    let emulatorCaFile: string

    before(async () => {
        const work = makeWorkDir()
        const ca = makeCa(work, "image-test-ca")
        const leaf = issue(work, ca, "board-x509-01", ["DNS:board-x509-01"])
        const chainFile = path.join(work, "chain.pem")
        fs.writeFileSync(chainFile, leaf.cert + ca.cert)
        pki = { chainFile, keyFile: leaf.keyFile, key: leaf.key, chain: [leaf.cert, ca.cert] }
        emu = await startTestEmulator({ enrollments: [{ registrationId: "board-x509-01", attestation: { type: "x509", certificate: leaf.cert } }] })
        emulatorCaFile = path.join(dir, "emulator-root.pem")
        fs.writeFileSync(emulatorCaFile, emu.ca)
        const runtime = path.join(dir, "stand-in-runtime.bin")
        fs.writeFileSync(runtime, Buffer.alloc(0x10000, 0xff))
        const defaults = path.join(dir, ".env.defaults")
        fs.writeFileSync(defaults, "ID_SCOPE=0ne00IMAGE1\nREG_ID=board-x509-01\nATTESTATION=x509\nDPS_HOST=global.azure-devices-provisioning.net\n")
        // Next to it, a secret the image must not pick up.
        fs.writeFileSync(path.join(dir, ".env.local"), `DEVICE_KEY=${deviceKey}\n`)
        outFile = path.join(dir, "mxchip_s3-0x0.bin")
        await buildBoardImage({
            board: "mxchip_s3",
            trustAnchorFiles: [...AZURE_ROOT_CAS, emulatorCaFile],
            clientIdentity: { certFile: chainFile, keyFile: leaf.keyFile },
            envFiles: [defaults],
            runtimeImage: runtime,
            outFile,
        })
        image = fs.readFileSync(outFile)
    })
    after(async () => {
        await emu?.stop()
    })

    it("keeps the runtime image and writes the board's configuration at 0x9000, within 8 KB", () => {
        assert.ok(
            image.subarray(0, 0x9000).every((b) => b === 0xff),
            "the stand-in runtime bytes before the configuration"
        )
        const cfg = decodeImageConfig(image, ESP32_CONFIG_OFFSET)
        const board = readBoardFile("mxchip_s3")
        assert.strictEqual(cfg.get("devName"), board.devName)
        assert.strictEqual(cfg.get("productId"), Number(board.productId))
        assert.strictEqual(cfg.get("archId"), "esp32s3")
        assert.strictEqual(cfg.get("i2c.pinSDA"), 8)
        assert.strictEqual(cfg.get("i2c.pinSCL"), 9)
        assert.strictEqual(cfg.get("scanI2C"), 0)
        assert.ok(image.readUInt32LE(ESP32_CONFIG_OFFSET + 8) <= 8192)
    })

    it("carries the trust anchors and the X.509 chain and key in the configuration, and the simulator reads them there", () => {
        const loaded = loadImage({ bytecodeFile: FIRMWARE_IMAGE, boardImageFile: outFile })
        assert.deepStrictEqual(fingerprints(loaded.trustAnchors), fingerprints([...AZURE_ROOT_CAS, emulatorCaFile].flatMap(readPemCertificates)))
        assert.deepStrictEqual(
            fingerprints(readPemCertificates(pki.chainFile)),
            fingerprints(loaded.clientIdentity!.cert.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!)
        )
        assert.ok(new crypto.X509Certificate(pki.chain[0]).checkPrivateKey(crypto.createPrivateKey(loaded.clientIdentity!.key)))
    })

    it("the simulated device provisions with exactly the image's anchors and client certificate", async () => {
        const { trustAnchors, clientIdentity } = loadImage({ bytecodeFile: FIRMWARE_IMAGE, boardImageFile: outFile })
        const d = await bootDevice(emu, { REG_ID: "board-x509-01", ATTESTATION: "x509" }, { trustAnchors, clientIdentity })
        try {
            assert.deepStrictEqual(await provisioningOutcome(d), { hub: "localhost", deviceId: "board-x509-01" })
        } finally {
            await d.stop()
        }
    })

    it("puts the program and its public settings in the storage area", () => {
        const fstor = image.subarray(FSTOR_OFFSET, FSTOR_OFFSET + FSTOR_BYTES)
        assert.ok(image.length <= FSTOR_OFFSET + FSTOR_BYTES)
        const magic = fstor.indexOf(Buffer.from("DevS\n"))
        assert.ok(magic >= 0, "a DeviceScript program in the storage area")
        // The program's function table and strings, as in our own build of the same sources.
        const ours = fs.readFileSync(FIRMWARE_IMAGE)
        assert.ok(fstor.includes(ours.subarray(0x100, 0x400)), "the same compiled program")
        for (const s of ["ID_SCOPE", "0ne00IMAGE1", "ATTESTATION", "x509", "REG_ID", "board-x509-01"]) assert.ok(fstor.includes(Buffer.from(s)), s)
    })

    it("holds no secret where it must not be: no key from .env.local, the private key only in the configuration", () => {
        // (The names DEVICE_KEY and GROUP_KEY are in the program, which reads them.)
        assert.ok(!image.includes(Buffer.from(deviceKey)), "the DEVICE_KEY of the .env.local next to the settings")
        const cfgEnd = ESP32_CONFIG_OFFSET + image.readUInt32LE(ESP32_CONFIG_OFFSET + 8)
        const keyDer = crypto.createPrivateKey(pki.key).export({ format: "der", type: "pkcs8" })
        const keyPemBody = crypto.createPrivateKey(pki.key).export({ format: "pem", type: "pkcs8" }).toString().split("\n")[1]
        const where = image.indexOf(Buffer.from(keyPemBody))
        assert.ok(where >= ESP32_CONFIG_OFFSET && where < cfgEnd, "the private key inside the configuration partition")
        assert.strictEqual(image.indexOf(Buffer.from(keyPemBody), where + 1), -1, "and nowhere else")
        assert.ok(!image.includes(keyDer))
    })

    it("uses the keys the ESP32 runtime patch reads (runtime/esp32-image-tls.patch)", () => {
        const patch = fs.readFileSync(path.join(ROOT, "runtime", "esp32-image-tls.patch"), "utf8")
        const cfg = decodeImageConfig(image, ESP32_CONFIG_OFFSET)
        for (const key of [TLS_CA_KEY, TLS_CERT_KEY]) {
            assert.match(patch, new RegExp(`parse_cfg_certs\\(&tls->\\w+, "${key.replace(".", "\\.")}"\\)`))
            assert.ok(cfg.has(key + "\x80"), `${key} + 0x80 in the image`)
        }
        assert.match(patch, new RegExp(`dcfg_get_string\\("${TLS_KEY_KEY.replace(".", "\\.")}"`))
        assert.ok(cfg.has(TLS_KEY_KEY))
        assert.match(patch, /key\[len\] = \(char\)\(0x80 \+ n\)/)
    })
})
