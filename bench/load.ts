// Starts a load client (hub-load-client.ts) in a child process, so the benchmark process
// measures the emulator alone; `ask` sends one command and resolves with its answer.
import { ChildProcess, spawn } from "child_process"
import * as path from "path"
import * as readline from "readline"
import { LoadCommand } from "./hub-load-client"

export interface LoadClient {
    child: ChildProcess
    ask<T = any>(c: LoadCommand): Promise<T>
    /** Closes its connections and ends the process. */
    end(): Promise<void>
}

export function startLoad(): LoadClient {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "hub-load-client.ts")], {
        stdio: ["pipe", "pipe", "inherit"],
    })
    const waiting: { resolve: (v: any) => void; reject: (e: Error) => void }[] = []
    readline.createInterface({ input: child.stdout! }).on("line", (l) => waiting.shift()?.resolve(JSON.parse(l)))
    const exited = new Promise<void>((resolve) =>
        child.on("exit", (code) => {
            for (const w of waiting.splice(0)) w.reject(new Error(`load client exited ${code}`))
            resolve()
        })
    )
    return {
        child,
        ask: (c) =>
            new Promise((resolve, reject) => {
                waiting.push({ resolve, reject })
                child.stdin!.write(JSON.stringify(c) + "\n")
            }),
        end: async () => {
            child.stdin!.end()
            await exited
        },
    }
}
