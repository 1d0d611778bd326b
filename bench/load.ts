// Starts a hub load client (hub-load-client.ts) in a child process, so the benchmark process
// measures the emulator alone. The job goes over stdin (keys never on the command line).
import { ChildProcess, spawn } from "child_process"
import * as path from "path"
import { LoadJob } from "./hub-load-client"

export function startLoad(job: LoadJob): { child: ChildProcess; result: Promise<any> } {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "hub-load-client.ts")], {
        stdio: ["pipe", "pipe", "inherit"],
    })
    child.stdin!.write(JSON.stringify(job) + "\n")
    const result = new Promise((resolve, reject) => {
        let out = ""
        child.stdout!.on("data", (d) => {
            out += d
            if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]))
        })
        child.on("exit", (code) => code && reject(new Error(`load client exited ${code}`)))
    })
    return { child, result }
}
