// Seeded fuzz of every packet the cloud sends, one phase at a time (DPS, or the hub session with desired
// updates, methods and C2D pushed meanwhile): the VM never panics, and the device is back on the hub once the
// cloud behaves. CI runs a few fixed seeds; `npm run fuzz` runs more, longer.
import * as assert from "assert"
import { until } from "../../sim/wait"
import { Connection, OutKind, serverPublish } from "./cloud-peer"
import { FuzzStats, makeMutator } from "./fuzz"
import { Case, defineCases, sleep } from "./hostile-device"

const report: string[] = []

function push(c: Connection, n: number): void {
    const what = n % 3
    if (what === 0)
        serverPublish(c, "desired", `$iothub/twin/PATCH/properties/desired/?$version=${10 + n}`, JSON.stringify({ $version: 10 + n, telemetryInterval: 1 }))
    else if (what === 1) serverPublish(c, "method", `$iothub/methods/POST/getDeviceState/?$rid=f${n}`, "{}")
    else serverPublish(c, "c2d", `devices/${c.clientId}/messages/devicebound/%24.mid=m${n}&k=v`, `c2d ${n}`, 1, (n % 60000) + 1)
}

interface Phase {
    name: string
    rate: number
    /** The hub refuses the device meanwhile, so it provisions again and again and DPS is hit more than once. */
    hubRefuses?: boolean
    /** Whether a packet of this connection and kind may be mutated. */
    targets(c: Connection, kind: OutKind): boolean
    minMutated: number
}

/** Session setup stalls on timeouts when attacked, so the steady state gets a phase of its own to be hit often. */
const STEADY: OutKind[] = ["puback", "pingresp", "twin-response", "desired", "method", "c2d"]
const PHASES: Phase[] = [
    { name: "every DPS packet", rate: 0.3, hubRefuses: true, targets: (c) => c.kind === "dps", minMutated: 3 },
    { name: "every hub packet", rate: 0.3, targets: (c) => c.kind === "hub", minMutated: 3 },
    { name: "hub session traffic", rate: 0.15, targets: (c, kind) => c.kind === "hub" && STEADY.includes(kind), minMutated: 10 },
]

function fuzzCase(phase: Phase, seed: number, windowSec: number): Case {
    const stats: FuzzStats = { packets: 0, mutated: 0, byMutation: {}, byKind: {} }
    let active = true
    return {
        name: `${phase.name} mutated for ${windowSec} s (seed ${seed})`,
        settings: { REFUSED_RETRY: 2, DPS_TIMEOUT: 20 },
        script: {
            connect(c, pkt, peer) {
                if (active && phase.hubRefuses && c.kind === "hub") c.send("connack", { cmd: "connack", returnCode: 5, sessionPresent: false })
                else peer.defaults.connect(c, pkt, peer)
            },
            sessionReady(c) {
                let n = 0
                const timer = setInterval(() => (c.closedMs === undefined && active ? push(c, n++) : clearInterval(timer)), 500)
            },
        },
        async run(peer, d) {
            peer.mutator = makeMutator(seed, phase.rate, stats, (c, kind) => active && phase.targets(c, kind))
            await sleep(windowSec * 1000)
            active = false
            const acked = () => d.count(/^hub: telemetry #\d+ acknowledged/)
            const before = acked()
            await until("telemetry acknowledged after the fuzz window", () => acked() > before + 1, 100000)
            report.push(`${phase.name}, seed ${seed}: ${stats.mutated} of ${stats.packets} packets mutated ${JSON.stringify(stats.byMutation)}`)
            assert.ok(stats.mutated >= phase.minMutated, `only ${stats.mutated} packets were mutated`)
        },
    }
}

const seeds = (process.env.FUZZ_SEEDS ?? "1,2").split(",").map(Number)
const windowSec = Number(process.env.FUZZ_WINDOW_SEC ?? 30)

describe("firmware against a fuzzing cloud", function () {
    this.timeout(200000 + windowSec * 1000)
    defineCases(PHASES.flatMap((p) => seeds.map((s) => fuzzCase(p, s, windowSec))))
    after(() => {
        if (report.length) console.log(`      ${report.join("\n      ")}`)
    })
})
