// X.509 figures: the firmware provisioning with a certificate (group with a verified root), the bytes a
// client certificate adds on the wire, the emulator's X.509 provisioning throughput, and the cost of
// building and checking one device chain.
import { X509Certificate } from "crypto"
import { x509BuildChain } from "../sim/emulator/auth/x509"
import { certToPem, createRootCa, issueClientCert, issueIntermediateCa } from "../sim/pki"
import { provision } from "../test/emulator/fixtures"
import { startTestEmulator } from "../test/support/emulator"
import { clientCert, nodeCert } from "../test/emulator/x509-fixtures"
import { bootDevice } from "../test/e2e/harness"
import { RUNS, firmwareRuns, throughput, wireBytesBy } from "./provisioning"
import { fmt, median, row } from "./stats"

const CHAIN_CHECKS = 2000
const LOAD_CONCURRENCY = 8

export async function benchX509() {
    console.log("X.509 attestation (issue 5)")
    const root = await createRootCa({ commonName: "bench root" })
    const intermediate = await issueIntermediateCa(root, { commonName: "bench intermediate" })
    // The firmware runs get DPS's cadence (one 202 poll) like the symmetric-key runs; the load runs none, like theirs.
    const start = (polls: number) =>
        startTestEmulator({
            enrollments: [
                { enrollmentGroupId: "bench-x509", attestation: { type: "x509", caCertificate: "bench-root" }, faults: { pollsBeforeAssigned: polls } },
            ],
            certificates: [{ name: "bench-root", cert: certToPem(root.cert), verified: true }],
        })
    const emu = await start(1)
    try {
        const fw = await firmwareRuns(async (i, onConsole) => {
            const leaf = await issueClientCert(intermediate, { commonName: `bench-x509-fw-${i}` })
            return bootDevice(emu, { REG_ID: `bench-x509-fw-${i}`, ATTESTATION: "x509" }, { onConsole, clientIdentity: await clientCert(leaf, 1) })
        })
        row(`firmware X.509: VM boot -> assigned, median of ${RUNS} (leaf + intermediate)`, `${fmt(median(fw.total))} ms`)
        row("firmware X.509: of which DPS (connect -> assigned)", `${fmt(median(fw.dps))} ms`)
        const wire = wireBytesBy(emu)
        row(
            "bytes on the wire per X.509 provisioning, firmware (TCP, TLS incl.)",
            `${median([...Array(RUNS).keys()].map((i) => wire.get(`bench-x509-fw-${i}`) ?? 0))}`
        )
    } finally {
        await emu.stop()
    }
    const leaves = await Promise.all([...Array(LOAD_CONCURRENCY).keys()].map((w) => issueClientCert(intermediate, { commonName: `bench-x509-load-${w}` })))
    const identities = await Promise.all(leaves.map((l) => clientCert(l, 1)))
    const load = await start(0)
    const t = await throughput(LOAD_CONCURRENCY, (w) =>
        provision(load.mqttPort, load.ca, { registrationId: `bench-x509-load-${w}` }, undefined, identities[w])
    ).finally(() => load.stop())
    row(`emulator X.509 provisioning flows/s, ${LOAD_CONCURRENCY} concurrent clients, 3 s`, `${fmt(t.perSec)} (${t.flows} flows)`)

    const presented: X509Certificate[] = [nodeCert(leaves[0]), nodeCert(intermediate)]
    const anchors = [nodeCert(root)]
    const now = new Date()
    const t0 = performance.now()
    for (let i = 0; i < CHAIN_CHECKS; i++) if (!x509BuildChain(presented, anchors, now).ok) throw new Error("bench chain did not verify")
    row("emulator chain check, leaf + intermediate -> root (EC P-256)", `${fmt(((performance.now() - t0) * 1000) / CHAIN_CHECKS)} µs`)
}
