// Small helpers for printing benchmark figures.
export function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b)
    const m = Math.floor(s.length / 2)
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function fmt(n: number, digits = 1): string {
    return n.toFixed(digits)
}

export function row(label: string, value: string) {
    console.log(`  ${label.padEnd(64)} ${value}`)
}
