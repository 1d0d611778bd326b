// Where the project keeps what setup generates; one place so tools agree.
import * as path from "path"

export const ROOT = path.resolve(__dirname, "..")
export const TEST_PKI_DIR = path.join(ROOT, "certs", "test-pki")
export const EMULATOR_ROOT_CA = path.join(TEST_PKI_DIR, "emulator-root.pem")
/** Where `npm run certs` writes X.509 test certificates and their keys (git-ignored). */
export const X509_CERTS_DIR = path.join(ROOT, "certs", "x509")
export const FIRMWARE_ENTRY = path.join(ROOT, "src", "main.ts")
export const FIRMWARE_IMAGE = path.join(ROOT, "build", "firmware.devs")
/** Boards the simulator has part models for (`npm start -- --board <id>`): entry file = models + src/main.ts. */
export const SIMULATED_BOARDS: Record<string, { entry: string; image: string }> = {
    mxchip_s3: {
        entry: path.join(ROOT, "sim", "sensor-models", "mxchip-main.ts"),
        image: path.join(ROOT, "build", "mxchip_s3-sim.devs"),
    },
}
export const EMULATOR_CONFIG = path.join(ROOT, "sim", "emulator.config.json")
export const EMULATOR_SECRETS = path.join(ROOT, ".emulator", "secrets.json")
export const ENV_DEFAULTS = path.join(ROOT, ".env.defaults")
export const ENV_LOCAL = path.join(ROOT, ".env.local")
/** Public roots Azure IoT Hub and DPS chain to (from Debian's ca-certificates). */
export const AZURE_ROOT_CAS = [
    path.join(ROOT, "certs", "azure", "DigiCert_Global_Root_G2.pem"),
    path.join(ROOT, "certs", "azure", "Microsoft_RSA_Root_Certificate_Authority_2017.pem"),
]
/** The demo's IoT Edge gateway: its host name and the root of its chain, which leaf images embed. */
export const EDGE_GATEWAY_HOST = "localhost"
export const EDGE_ROOT_CA = path.join(TEST_PKI_DIR, "edge-root.pem")
/** Secrets a leaf device's image carries, next to .env.local. */
export const LEAF_REG_ID = "sim-leaf-01"
/** The X.509 scenario of `npm start -- --x509`: its certificates, the root's name in DPS, the device. */
export const X509_DEMO_DIR = path.join(TEST_PKI_DIR, "x509-demo")
export const X509_DEMO_CA = "sim-x509-root"
export const X509_DEMO_REG_ID = "sim-x509-01"
