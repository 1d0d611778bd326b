// DPS's enrollments: those of the config file, changed at run time through the service API. The list
// DPS reads is the config's own array (every face reads it live); each enrollment created, replaced
// or deleted through the service is a store record (`enrollment/<i|g>/<id>`: the enrollment as the
// config file would write it, or a deletion), applied over the config at every start, so the
// config's enrollments that were never touched still follow the file.
import { EmulatorConfig, Enrollment, enrollmentId, enrollmentsEdited, validateEnrollment } from "../config"
import { Journal, NO_JOURNAL } from "./store"

const KEY_PREFIX = "enrollment/"

export type EnrollmentKind = Enrollment["kind"]

/** What DPS keeps with an enrollment besides its content. */
export interface EnrollmentMeta {
    etag: string
    createdDateTimeUtc?: string
    lastUpdatedDateTimeUtc?: string
}

type StoredEnrollment = ({ raw: unknown } & EnrollmentMeta) | { deleted: true }

const keyOf = (kind: EnrollmentKind, id: string) => `${KEY_PREFIX}${kind === "individual" ? "i" : "g"}/${id.toLowerCase()}`

export class EnrollmentStore {
    private readonly meta = new Map<string, EnrollmentMeta>()
    private journal: Journal = NO_JOURNAL

    constructor(private readonly config: EmulatorConfig) {}

    /** Applies the records a store kept (entries in key order) over the config's enrollments, then writes changes to `journal`. */
    attach(journal: Journal, entries: [string, unknown][]): void {
        for (const [key, value] of entries) {
            if (!key.startsWith(KEY_PREFIX)) continue
            const kind: EnrollmentKind = key[KEY_PREFIX.length] === "i" ? "individual" : "group"
            const id = key.slice(KEY_PREFIX.length + 2)
            const v = value as StoredEnrollment
            if ("deleted" in v) {
                this.remove(kind, id)
                continue
            }
            let e: Enrollment
            try {
                e = validateEnrollment(this.config, v.raw)
            } catch (err) {
                throw new Error(
                    `enrollment ${id} kept in the state no longer fits the config (${(err as Error).message}); fix the config or start with --fresh`
                )
            }
            this.place(e, { etag: v.etag, createdDateTimeUtc: v.createdDateTimeUtc, lastUpdatedDateTimeUtc: v.lastUpdatedDateTimeUtc })
        }
        this.journal = journal
    }

    list(kind: EnrollmentKind): Enrollment[] {
        return this.config.enrollments.filter((e) => e.kind === kind)
    }

    /** Ids are case-insensitive, as in DPS. */
    get(kind: EnrollmentKind, id: string): Enrollment | undefined {
        return this.config.enrollments.find((e) => e.kind === kind && enrollmentId(e).toLowerCase() === id.toLowerCase())
    }

    /** undefined for a config enrollment never changed at run time. */
    metaOf(e: Enrollment): EnrollmentMeta | undefined {
        return this.meta.get(keyOf(e.kind, enrollmentId(e)))
    }

    /** Creates or replaces an enrollment; `raw` is what `e` was validated from, kept as the record. */
    put(e: Enrollment, raw: unknown, meta: EnrollmentMeta): void {
        this.place(e, meta)
        this.journal.put(keyOf(e.kind, enrollmentId(e)), (): StoredEnrollment => ({ raw, ...meta }))
    }

    delete(kind: EnrollmentKind, id: string): void {
        this.remove(kind, id)
        this.journal.put(keyOf(kind, id), (): StoredEnrollment => ({ deleted: true }))
    }

    private place(e: Enrollment, meta: EnrollmentMeta): void {
        const list = this.config.enrollments
        const i = list.findIndex((x) => x.kind === e.kind && enrollmentId(x).toLowerCase() === enrollmentId(e).toLowerCase())
        if (i >= 0) list[i] = e
        else list.push(e)
        enrollmentsEdited(this.config)
        this.meta.set(keyOf(e.kind, enrollmentId(e)), meta)
    }

    private remove(kind: EnrollmentKind, id: string): void {
        const list = this.config.enrollments
        const i = list.findIndex((x) => x.kind === kind && enrollmentId(x).toLowerCase() === id.toLowerCase())
        if (i >= 0) list.splice(i, 1)
        enrollmentsEdited(this.config)
        this.meta.delete(keyOf(kind, id))
    }
}
