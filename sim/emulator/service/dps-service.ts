// DPS's service side (`az iot dps certificate ...`): the CA certificates group enrollments chain
// to, and their proof of possession. Certificates come as PEM or base64 DER, as DPS accepts them.
// Failures throw CaStoreError with the HTTP status DPS answers (400 bad input or failed proof, 404 unknown name).
import { CaCertificateView, CaStore, CaStoreError, caView } from "../state/ca-store"
import { Emit } from "../events"

export { CaStoreError } from "../state/ca-store"
export type { CaCertificateView } from "../state/ca-store"

export class DpsService {
    constructor(
        private readonly certificates: CaStore,
        private readonly emit: Emit
    ) {}

    /** Adds or replaces a CA; it stays unverified (unless `verified`) until proof of possession. */
    uploadCaCertificate(name: string, certificate: string, options: { verified?: boolean } = {}): CaCertificateView {
        const view = this.certificates.upload(name, certificateToPem(certificate), options.verified ?? false)
        this.emit("dps.certificate", { name: view.name, change: "uploaded", isVerified: view.isVerified })
        return view
    }

    listCaCertificates(): CaCertificateView[] {
        return this.certificates.list()
    }

    getCaCertificate(name: string): CaCertificateView {
        const entry = this.certificates.get(name)
        if (!entry) throw notFound(name)
        return caView(entry)
    }

    /** The code the verification certificate's CN must carry; a new code replaces the previous one. */
    generateVerificationCode(name: string): { name: string; verificationCode: string } {
        const issued = this.certificates.generateVerificationCode(name)
        this.emit("dps.certificate", { name: issued.name, change: "verification code issued", isVerified: false })
        return issued
    }

    /** Verifies the CA when `verificationCertificate` has CN = the issued code and is signed by the CA's key. */
    verifyCaCertificate(name: string, verificationCertificate: string): CaCertificateView {
        const view = this.certificates.verify(name, certificateToPem(verificationCertificate))
        this.emit("dps.certificate", { name: view.name, change: "verified", isVerified: true })
        return view
    }

    deleteCaCertificate(name: string): void {
        if (!this.certificates.delete(name)) throw notFound(name)
        this.emit("dps.certificate", { name, change: "deleted", isVerified: false })
    }
}

function notFound(name: string): CaStoreError {
    return new CaStoreError(404, `no certificate named ${name}`)
}

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/

/** PEM as is; base64 DER (what the DPS REST API and portal take) wrapped into PEM. */
function certificateToPem(text: string): string {
    if (text.includes("-----BEGIN")) return text
    if (!BASE64.test(text)) throw new CaStoreError(400, "certificate must be PEM or base64-encoded DER")
    const b64 = text.replace(/\s/g, "")
    return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`
}
