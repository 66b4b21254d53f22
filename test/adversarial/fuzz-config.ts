// Run count and seed for the property tests. `pnpm test:fuzz` sets SIGIL_FUZZ_RUNS=20000; the
// normal run uses 200. Pass SIGIL_FUZZ_SEED to replay a failure.
import { writeFileSync } from 'node:fs'
import fc from 'fast-check'

export const FUZZ_RUNS = Number(process.env.SIGIL_FUZZ_RUNS ?? 200)
export const FUZZ_SEED = Number(process.env.SIGIL_FUZZ_SEED ?? Date.now() % 2 ** 31)
export const FUZZ_MODE = process.env.SIGIL_FUZZ_RUNS !== undefined

/** Per-test timeout that grows with the run count. */
export const fuzzTimeout = (perRunMs = 2) => Math.max(30_000, FUZZ_RUNS * perRunMs)

interface Record {
  property: string
  runs: number
  seed: number
  ms: number
  ok: boolean
}
const records: Record[] = []

/** fc.assert with the configured runs and a per-property seed, printed and recorded. */
export async function check(property: string, runs: number, prop: fc.IAsyncProperty<unknown[]> | fc.IProperty<unknown[]>, index: number) {
  const seed = (FUZZ_SEED + index) | 0
  console.log(`[fuzz] ${property}: runs=${runs} seed=${seed}`)
  const t0 = performance.now()
  let ok = false
  try {
    await fc.assert(prop as fc.IAsyncProperty<unknown[]>, { numRuns: runs, seed })
    ok = true
  } finally {
    records.push({ property, runs, seed, ms: Math.round(performance.now() - t0), ok })
  }
}

/** Write the last fuzz run's runs and seeds to FUZZ.md (only for `pnpm test:fuzz`). */
export function writeFuzzReport(path: URL): void {
  if (!FUZZ_MODE || records.length === 0) return
  // An aligned table, as the formatter (biome) would print it, so `pnpm lint` stays clean.
  const cells = [
    ['property', 'runs', 'seed', 'ms', 'result'],
    ...records.map((r) => [r.property, `${r.runs}`, `${r.seed}`, `${r.ms}`, r.ok ? 'pass' : 'FAIL']),
  ]
  const right = [false, true, true, true, false]
  const width = right.map((_, i) => Math.max(...cells.map((row) => (row[i] as string).length)))
  const line = (row: string[]) =>
    `| ${row.map((c, i) => (right[i] ? c.padStart(width[i] as number) : c.padEnd(width[i] as number))).join(' | ')} |`
  const rule = `| ${width.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`
  const rows = [line(cells[0] as string[]), rule, ...cells.slice(1).map(line)]
  const text = `# Last fuzz run

Written by \`pnpm test:fuzz\` (test/adversarial/properties.test.ts). Replay a property with
\`SIGIL_FUZZ_SEED=<base seed> SIGIL_FUZZ_RUNS=<runs> pnpm vitest run test/adversarial/properties.test.ts\`;
each property uses base seed + its index.

- date: ${new Date().toISOString()}
- node: ${process.version}
- base seed: ${FUZZ_SEED}
- runs per property: ${FUZZ_RUNS}

${rows.join('\n')}
`
  writeFileSync(path, text)
}
