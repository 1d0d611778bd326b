// The CA certificates uploaded to the emulator (DPS "Certificates"), with proof of possession:
// a CA stays unverified until its owner presents a certificate whose CN is the issued
// verification code, signed by the CA's private key. Names are case-insensitive.
import { X509Certificate, randomBytes } from "crypto"
import { Journal, NO_JOURNAL } from "./store"
import { x509CommonName, x509ParsePem, x509Thumbprints, x509ValidityProblem } from "../auth/x509"

export interface CaCertificate {
    name: string
    cert: X509Certificate
    verified: boolean
    /** The outstanding proof-of-possession code, until verification succeeds. */
    verificationCode?: string
    created: string
    updated: string
}

/** What the service side shows of a CA (the fields of the DPS certificate resource). */
export interface CaCertificateView {
    name: string
    subject: string
    thumbprint: string
    sha256Thumbprint: string
    isVerified: boolean
    expiry: string
    created: string
    updated: string
}

export class CaStoreError extends Error {
    constructor(
        readonly status: 400 | 404,
        message: string
    ) {
        super(message)
    }
}

const NAME = /^[A-Za-z0-9._-]{1,256}$/

const CA_KEY_PREFIX = "ca/"

/** A CA as the store keeps it: the certificate as PEM. */
type StoredCa = Omit<CaCertificate, "cert"> & { cert: string }

export class CaStore {
    private readonly byName = new Map<string, CaCertificate>()
    journal: Journal = NO_JOURNAL

    constructor(private readonly now: () => Date = () => new Date()) {}

    /** Adds or replaces a CA (replacing resets verification unless `verified`, like `az ... --verified`). */
    upload(name: string, pem: string, verified = false): CaCertificateView {
        if (!NAME.test(name)) throw new CaStoreError(400, `certificate name ${JSON.stringify(name)} must be 1-256 of A-Z a-z 0-9 . _ -`)
        let certs: X509Certificate[]
        try {
            certs = x509ParsePem(pem)
        } catch (e) {
            throw new CaStoreError(400, `certificate ${name}: ${(e as Error).message}`)
        }
        if (certs.length !== 1) throw new CaStoreError(400, `certificate ${name}: upload one certificate, not ${certs.length}`)
        if (!certs[0].ca) throw new CaStoreError(400, `certificate ${name} is not a CA certificate (basicConstraints CA:TRUE)`)
        const stamp = this.now().toISOString()
        const entry: CaCertificate = { name, cert: certs[0], verified, created: this.byName.get(name.toLowerCase())?.created ?? stamp, updated: stamp }
        this.byName.set(name.toLowerCase(), entry)
        this.save(entry)
        return caView(entry)
    }

    get(name: string): CaCertificate | undefined {
        return this.byName.get(name.toLowerCase())
    }

    list(): CaCertificateView[] {
        return [...this.byName.values()].map(caView)
    }

    /** The CAs proven by proof of possession: what IoT Hub trusts for CA-authenticated devices. */
    verifiedCertificates(): X509Certificate[] {
        return [...this.byName.values()].filter((e) => e.verified).map((e) => e.cert)
    }

    delete(name: string): boolean {
        this.journal.del(CA_KEY_PREFIX + name.toLowerCase())
        return this.byName.delete(name.toLowerCase())
    }

    /** Writes every CA's record again (a new store). */
    writeAll(): void {
        for (const e of this.byName.values()) this.save(e)
    }

    /** Replaces what is in memory with the store's records. */
    restore(entries: [string, unknown][]): void {
        this.byName.clear()
        for (const [key, value] of entries) {
            if (!key.startsWith(CA_KEY_PREFIX)) continue
            const e = value as StoredCa
            this.byName.set(e.name.toLowerCase(), { ...e, cert: new X509Certificate(e.cert) })
        }
    }

    private save(e: CaCertificate) {
        this.journal.put(CA_KEY_PREFIX + e.name.toLowerCase(), (): StoredCa => ({ ...e, cert: e.cert.toString() }))
    }

    /** Issues (or re-issues) the code the verification certificate's CN must carry. */
    generateVerificationCode(name: string): { name: string; verificationCode: string } {
        const entry = this.require(name)
        entry.verificationCode = randomBytes(24).toString("hex").toUpperCase()
        entry.updated = this.now().toISOString()
        this.save(entry)
        return { name: entry.name, verificationCode: entry.verificationCode }
    }

    /** Proof of possession: on success the CA is verified and the code is spent. */
    verify(name: string, verificationPem: string): CaCertificateView {
        const entry = this.require(name)
        if (!entry.verificationCode) throw new CaStoreError(400, `no verification code was generated for certificate ${entry.name}`)
        let cert: X509Certificate
        try {
            cert = x509ParsePem(verificationPem)[0]
        } catch (e) {
            throw new CaStoreError(400, `verification certificate: ${(e as Error).message}`)
        }
        const cn = x509CommonName(cert)
        if (cn?.toUpperCase() !== entry.verificationCode)
            throw new CaStoreError(400, `verification certificate CN ${JSON.stringify(cn)} is not the verification code issued for ${entry.name}`)
        if (!cert.verify(entry.cert.publicKey)) throw new CaStoreError(400, `verification certificate is not signed by the private key of ${entry.name}`)
        const expired = x509ValidityProblem(cert, this.now())
        if (expired) throw new CaStoreError(400, `verification ${expired}`)
        entry.verified = true
        entry.verificationCode = undefined
        entry.updated = this.now().toISOString()
        this.save(entry)
        return caView(entry)
    }

    private require(name: string): CaCertificate {
        const entry = this.get(name)
        if (!entry) throw new CaStoreError(404, `no certificate named ${name}`)
        return entry
    }
}

export function caView(e: CaCertificate): CaCertificateView {
    const t = x509Thumbprints(e.cert)
    return {
        name: e.name,
        subject: e.cert.subject.replace(/\n/g, ", "),
        thumbprint: t.sha1,
        sha256Thumbprint: t.sha256,
        isVerified: e.verified,
        expiry: new Date(Date.parse(e.cert.validTo)).toISOString(),
        created: e.created,
        updated: e.updated,
    }
}
