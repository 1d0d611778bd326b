// The service CLI's az vocabulary for DPS enrollments and identity updates: `dps enrollment[-group]
// create|list|show|update|delete` and `device update` with az's flags, through DPS's and IoT Hub's REST
// APIs. Keys only with --show-keys; a flag a command does not take is refused. Most cases run the
// commands in-process (fast); one runs the CLI as a process, as a user does.
import * as assert from "assert"
import { provision } from "./fixtures"
import { hubDevice } from "./hub-fixtures"
import { RunningEmulator, startTestEmulator } from "../support/emulator"
import { serviceCliFor } from "./service-cli-runner"
import { parseCliArgs } from "../../sim/emulator/service/service-cli"
import { runEnrollmentCommand } from "../../sim/emulator/service/enrollment-cli"
import { ServiceClient } from "../../sim/emulator/service/service-client"

describe("service CLI: az iot dps enrollment vocabulary", function () {
    this.timeout(30000)
    let emu: RunningEmulator
    let client: ServiceClient
    /** Runs a command line in-process, as service-cli.ts would. */
    const run = (...argv: string[]) => {
        const a = parseCliArgs(argv)
        return runEnrollmentCommand(a.words.join(" "), a.options, a.showKeys, client) as Promise<any>
    }

    beforeEach(async () => {
        emu = await startTestEmulator({ devices: [hubDevice("cli-upd")] })
        client = new ServiceClient({ host: "localhost", port: emu.servicePort, ca: emu.ca, hub: "localhost", serviceKey: emu.serviceKey })
    })
    afterEach(() => emu.stop())

    it("creates an individual enrollment with az's flags; keys only with --show-keys; the device provisions; update and delete", async () => {
        const created = await run(
            "dps",
            "enrollment",
            "create",
            "--eid",
            "cli-enr",
            "--at",
            "symmetrickey",
            "--props",
            '{"interval":7}',
            "--ap",
            "static",
            "--ih",
            "localhost"
        )
        assert.deepStrictEqual([created.registrationId, created.provisioningStatus, created.allocationPolicy], ["cli-enr", "enabled", "static"])
        assert.deepStrictEqual(created.attestation, { type: "symmetricKey", symmetricKey: {} })
        assert.deepStrictEqual((await run("dps", "enrollment", "show", "--enrollment-id", "cli-enr")).attestation.symmetricKey, {})
        const keys = (await run("dps", "enrollment", "show", "--eid", "cli-enr", "--show-keys")).attestation.symmetricKey
        assert.strictEqual(Buffer.from(keys.primaryKey, "base64").length, 64)
        const answers = await provision(emu.mqttPort, emu.ca, { registrationId: "cli-enr", key: keys.primaryKey })
        assert.strictEqual(answers.at(-1)!.body.status, "assigned")
        assert.deepStrictEqual(emu.emulator.service.getTwin("cli-enr").properties.desired, { interval: 7, $version: 1 })

        const updated = await run("dps", "enrollment", "update", "--eid", "cli-enr", "--ps", "disabled")
        assert.strictEqual(updated.provisioningStatus, "disabled")
        assert.strictEqual(
            (await run("dps", "enrollment", "show", "--eid", "cli-enr", "--keys")).attestation.symmetricKey.primaryKey,
            keys.primaryKey,
            "an update keeps the keys"
        )
        await assert.rejects(run("dps", "enrollment", "delete", "--eid", "cli-enr", "-e", created.etag), /412 412000/)
        assert.deepStrictEqual(await run("dps", "enrollment", "delete", "--eid", "cli-enr"), { deleted: "cli-enr" })
        assert.deepStrictEqual(await run("dps", "enrollment", "list"), [])
    })

    it("manages enrollment groups by --gid or --eid, with given keys or a CA name", async () => {
        const pk = Buffer.alloc(32, 1).toString("base64")
        await run("dps", "enrollment-group", "create", "--gid", "cli-grp", "--pk", pk)
        await run("dps", "enrollment-group", "create", "--enrollment-id", "cli-x509", "--cn", "fleet-root", "--ps", "disabled")
        const list = await run("dps", "enrollment-group", "list")
        assert.deepStrictEqual(
            list.map((g: any) => [g.enrollmentGroupId, g.attestation.type, g.provisioningStatus]),
            [
                ["cli-grp", "symmetricKey", "enabled"],
                ["cli-x509", "x509", "disabled"],
            ]
        )
        assert.deepStrictEqual(list[1].attestation.x509, { caReferences: { primary: "fleet-root" } })
        assert.strictEqual((await run("dps", "enrollment-group", "show", "--gid", "cli-grp", "--show-keys")).attestation.symmetricKey.primaryKey, pk)
        const moved = await run("dps", "enrollment-group", "update", "--gid", "cli-grp", "--rp", "never")
        assert.deepStrictEqual(moved.reprovisionPolicy, { updateHubAssignment: false, migrateDeviceData: false })
    })

    it("refuses flags az does not take there, bad values, and TPM", async () => {
        assert.throws(() => parseCliArgs(["dps", "enrollment", "create", "--eid", "x", "--registration", "y"]), /Unknown option '--registration'/)
        await assert.rejects(
            run("dps", "enrollment", "create", "--eid", "x", "--at", "symmetrickey", "--mn", "m"),
            /--method-name does not apply to dps enrollment create/
        )
        await assert.rejects(run("dps", "enrollment", "show", "--gid", "x"), /--group-id does not apply to dps enrollment show/)
        await assert.rejects(
            run("dps", "enrollment", "create", "--eid", "x", "--at", "symmetrickey", "--ap", "fastest"),
            /--allocation-policy takes hashed, geolatency, static, custom/
        )
        await assert.rejects(run("dps", "enrollment", "create", "--eid", "x", "--at", "tpm"), /TPM attestation is not emulated/)
        await assert.rejects(run("dps", "enrollment", "create", "--eid", "x"), /--attestation-type \(--at\) symmetrickey\|x509 is required/)
        await assert.rejects(
            run("dps", "enrollment", "create", "--eid", "x", "--at", "symmetrickey", "--pk", "c2hvcnQ="),
            /400 400004: enrollment.attestation.primaryKey: must be base64 of at least 16 bytes/
        )
        await assert.rejects(run("dps", "enrollment", "show", "--eid", "nobody"), /404 404000: enrollment nobody not found/)
    })

    it("device update sets status and keys through IoT Hub's API, with the ETag; runs as a process like a user's", async () => {
        const cli = await serviceCliFor(emu)
        const out = JSON.parse((await cli("device", "update", "-d", "cli-upd", "--sta", "disabled")).stdout)
        assert.deepStrictEqual([out.deviceId, out.status], ["cli-upd", "disabled"])
        assert.strictEqual(emu.emulator.service.getDevice("cli-upd").status, "disabled")
        const pk = Buffer.alloc(32, 2).toString("base64")
        await run("device", "update", "-d", "cli-upd", "--pk", pk, "--sta", "enabled")
        assert.deepStrictEqual(emu.emulator.service.authentication("cli-upd"), {
            type: "sas",
            keys: { primaryKey: pk, secondaryKey: out.authentication.symmetricKey.secondaryKey },
        })
        await assert.rejects(run("device", "update", "-d", "cli-upd", "--sta", "disabled", "-e", out.etag), /412 PreconditionFailed/)
        await assert.rejects(run("device", "update", "-d", "cli-upd", "--ps", "disabled"), /--provisioning-status does not apply to device update/)
    })
})
