// A device's flash (settings it wrote, the deployed program): in memory, or in a file to outlive the process.
import * as fs from "fs"
import * as path from "path"

export class FlashStore {
    private image: Uint8Array = new Uint8Array(0)

    constructor(private readonly file?: string) {
        if (file && fs.existsSync(file)) this.image = new Uint8Array(fs.readFileSync(file))
    }

    load(): Uint8Array {
        return this.image
    }

    /** Called synchronously from inside the VM; written via a temporary file so a crash never leaves half a flash. */
    save(image: Uint8Array): void {
        this.image = new Uint8Array(image)
        if (!this.file) return
        fs.mkdirSync(path.dirname(this.file), { recursive: true })
        const tmp = `${this.file}.${process.pid}.tmp`
        fs.writeFileSync(tmp, this.image)
        fs.renameSync(tmp, this.file)
    }
}
