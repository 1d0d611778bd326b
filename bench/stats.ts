// Small helpers for printing benchmark figures.
export function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b)
    const m = Math.floor(s.length / 2)
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function fmt(n: number, digits = 1): string {
    return n.toFixed(digits)
}

/** "min / median / max" of a sample. */
export function spread(xs: number[], digits = 1): string {
    return `${fmt(Math.min(...xs), digits)} / ${fmt(median(xs), digits)} / ${fmt(Math.max(...xs), digits)}`
}

export function row(label: string, value: string) {
    console.log(`  ${label.padEnd(64)} ${value}`)
}

/** A figure of the table: the value, its goal, and whether this run meets it. */
export function goalRow(label: string, value: string, goal: string, met: boolean) {
    console.log(`  ${label.padEnd(64)} ${value.padEnd(30)} goal ${goal} ${met ? "(met)" : "(NOT met)"}`)
}
