// `pnpm bench:keys` (also run by `pnpm bench`): key lookups as the number of keys grows. For each
// size, in a fresh process: SQLite and PostgreSQL `get` uncached, a cache ten times smaller than
// the key set (the miss path), a `list` page, and the cache's own hit path and memory per key.
// Writes test/bench/results/keys.json and keys.md. Flags: --sizes=100,10000,100000, --1m (adds
// 1,000,000), --no-postgres, --sqlite-driver=node:sqlite|better-sqlite3|wasm (else the package's
// default choice, as SIGIL_SQLITE_DRIVER), --cell-timeout-s=N (default 1800: a cell still running
// then is killed). PostgreSQL: TEST_DATABASE_URL of test/helpers/services.ts (SIGIL_TEST_DATABASE_URL),
// in a private schema. Each cell's SQLite directory and PostgreSQL schema are chosen here and
// removed here after the cell's process exits, whether it finished, failed or was killed.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { TEST_DATABASE_URL } from '../helpers/services.js'
import { machineLine } from './fixtures.js'

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const sizes = (value('sizes') ?? '100,10000,100000').split(',').map(Number)
if (flag('1m') && !sizes.includes(1_000_000)) sizes.push(1_000_000)
const backends = flag('no-postgres') ? ['cache', 'sqlite'] : ['cache', 'sqlite', 'postgres']
const sqliteDriver = value('sqlite-driver')
const cellTimeoutMs = Number(value('cell-timeout-s') ?? 1800) * 1000
const PG_URL = TEST_DATABASE_URL
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (s: string) => console.log(s)

type Cell = Record<string, unknown> & { backend: string; size: number }
const cells: Cell[] = []
const machine = await machineLine()
log(machine)
const startedAt = new Date().toISOString()
const dropSchema = async (schema: string) => {
  const c = new pg.Client({ connectionString: PG_URL })
  try {
    await c.connect()
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } catch (e) {
    log(`  could not drop schema ${schema}: ${(e as Error).message}`)
  } finally {
    await c.end().catch(() => {})
  }
}
for (const size of sizes) {
  for (const backend of backends) {
    const t = performance.now()
    const place =
      backend === 'sqlite'
        ? mkdtempSync(join(tmpdir(), 'sigil-keys-bench-'))
        : backend === 'postgres'
          ? `sigil_keys_bench_${process.pid}_${size}`
          : undefined
    const r = spawnSync(
      process.execPath,
      [
        '--expose-gc',
        '--max-old-space-size=4096',
        '--import',
        'tsx/esm',
        '--conditions=source',
        `${here}keys-child.ts`,
        backend,
        String(size),
        ...(place ? [place] : []),
      ],
      {
        encoding: 'utf8',
        timeout: cellTimeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...(sqliteDriver ? { SIGIL_SQLITE_DRIVER: sqliteDriver } : {}) },
      },
    )
    if (backend === 'sqlite' && place) rmSync(place, { recursive: true, force: true })
    if (backend === 'postgres' && place) await dropSchema(place)
    if (r.status !== 0) {
      const why = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').slice(-3).join(' ')
      log(`  ${backend} ${size}: failed: ${why}`)
      continue
    }
    const cell = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Cell
    cells.push(cell)
    log(`  ${backend} ${size.toLocaleString('en')} keys: ${((performance.now() - t) / 1000).toFixed(1)} s ${JSON.stringify(cell)}`)
  }
}

const find = (backend: string, size: number) => cells.find((c) => c.backend === backend && c.size === size)
const num = (c: Cell | undefined, path: string): number | undefined => {
  let v: unknown = c
  for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k]
  return typeof v === 'number' ? v : undefined
}
const us = (v: number | undefined) => (v === undefined ? '—' : v < 10 ? v.toFixed(2) : v.toFixed(0))
const base = sizes[0] as number
const withRatio = (backend: string, size: number, path: string) => {
  const v = num(find(backend, size), path)
  const b = num(find(backend, base), path)
  if (v === undefined) return '—'
  return size === base || b === undefined ? `${us(v)} µs` : `${us(v)} µs (${(v / b).toFixed(1)}×)`
}
const out: string[] = [
  `Machine: ${machine}; load average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
  `SQLite driver measured (the package's own seam, as users get it): ${[...new Set(cells.map((c) => c.driver).filter(Boolean))].join(', ') || '—'}.`,
  `Run ${startedAt}. Medians over batches; in-process figures are CPU time per op (robust to a loaded machine), PostgreSQL figures wall time. (×) = ratio to the ${base.toLocaleString('en')}-key figure.`,
  '',
  "| keys | SQLite `get` | SQLite `lookup` (sync) | PostgreSQL `get` | cached hit `getSync` | cached hit `await get` | bare `Map.get` (floor) | memory per cached key: table + record held (heap), RSS | cache of size/10, random traffic: `get` (SQLite · PostgreSQL, × the store's `get`), SQLite `lookup` (× the store's `lookup`) | `list` page of 100 (SQLite · PostgreSQL) |",
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
]
for (const size of sizes) {
  const c = find('cache', size)
  const small = (backend: string) => {
    const s = find(backend, size)?.small as Record<string, number> | undefined
    return s ? `${us(s.us)} µs ${(s.ratioToStore as number).toFixed(2)}× (hits ${((s.hitRatio as number) * 100).toFixed(0)}%)` : '—'
  }
  const smallLookup = () => {
    const s = find('sqlite', size)?.small as Record<string, number> | undefined
    return s?.lookupUs === undefined ? '—' : `${us(s.lookupUs)} µs ${(s.lookupRatioToStore as number).toFixed(2)}×`
  }
  const memory = () => {
    if (size < 10_000 || !c) return '—'
    const b = (k: string) => (num(c, k) as number).toFixed(0)
    return `${b('heapPerKey')} B + ${b('recordHeapPerKey')} B, ${((num(c, 'rssPerKey') as number) + (num(c, 'recordRssPerKey') as number)).toFixed(0)} B`
  }
  const page = (backend: string) => {
    const v = num(find(backend, size), 'listPageMs')
    return v === undefined ? '—' : `${v.toFixed(2)} ms`
  }
  out.push(
    `| ${size.toLocaleString('en')} | ${withRatio('sqlite', size, 'getUs')} | ${withRatio('sqlite', size, 'lookupUs')} | ${withRatio('postgres', size, 'getUs')} | ${withRatio('cache', size, 'getSyncUs')} | ${withRatio('cache', size, 'getUs')} | ${us(num(c, 'mapGetUs'))} µs | ${memory()} | ${size >= 10_000 ? `${small('sqlite')} · ${small('postgres')}; ${smallLookup()}` : '—'} | ${page('sqlite')} · ${page('postgres')} |`,
  )
}
out.push(
  '',
  `Populating (one transaction, secrets sealed as the store seals them): ${cells
    .filter((c) => c.backend !== 'cache')
    .map((c) => `${c.backend} ${c.size.toLocaleString('en')} in ${((c.populateMs as number) / 1000).toFixed(1)} s`)
    .join(', ')}.`,
  '',
)
const largest = sizes[sizes.length - 1] as number
for (const backend of ['sqlite', 'postgres']) {
  const plan = find(backend, largest)?.plan as Record<string, string> | undefined
  if (plan)
    out.push(
      `Plans at ${largest.toLocaleString('en')} keys, ${backend}: lookup \`${plan.get}\`; list page after a cursor \`${plan.list}\`.`,
      '',
    )
}
const md = out.join('\n')
mkdirSync(`${here}results`, { recursive: true })
writeFileSync(`${here}results/keys.json`, `${JSON.stringify({ machine, startedAt, cells }, null, 2)}\n`)
writeFileSync(`${here}results/keys.md`, md)
log(`\n${md}`)
