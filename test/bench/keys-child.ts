// One cell of the keys bench, in its own process (run with --expose-gc). `sqlite`/`postgres`:
// populate a fresh store with `size` keys in bulk (one transaction; secrets sealed exactly as the
// store seals them), time uncached `get`, a cache ten times smaller than the key set, and a `list`
// page; clean up. `cache`: the cache's hit path and memory per key at `size` entries. Prints one
// JSON line.
// Args: <sqlite|postgres|cache> <size> [place]: `place` is the SQLite directory or the PostgreSQL
// schema to use, chosen by keys.ts, which also removes it after this process exits (killed or not).
// SQLite runs on the package's own driver seam (`openSqliteDatabase`, what users get: node:sqlite,
// else better-sqlite3, else wasm; SIGIL_SQLITE_DRIVER forces one) and reports which driver it measured.
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KeyRecord } from '@sigil/core'
import {
  CACHE_MISS,
  createCachedKeyStore,
  type EncryptedKeyStore,
  generateMasterKey,
  KEY_ID_LENGTH,
  parseMasterKey,
  sealSecret,
} from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore, openSqliteDatabase } from '@sigil/keys/sqlite'
import pg from 'pg'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const backend = process.argv[2] as 'sqlite' | 'postgres' | 'cache'
const size = Number(process.argv[3])
const place = process.argv[4]
const PG_URL = TEST_DATABASE_URL
const ring = parseMasterKey(generateMasterKey())
const secret = new Uint8Array(32).fill(7)
const SQLITE_BATCH = 50_000
const PG_BATCH = 20_000

// Key ids as createKeyId makes them (22 base62 characters), drawn from one random buffer per
// batch: a randomBytes call per id would dominate populating a million rows.
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
function keyIds(n: number): string[] {
  const out: string[] = new Array(n)
  let pool = randomBytes(0)
  let at = 0
  for (let i = 0; i < n; i++) {
    let id = ''
    while (id.length < KEY_ID_LENGTH) {
      if (at === pool.length) {
        pool = randomBytes(65_536)
        at = 0
      }
      const b = pool[at++] as number
      if (b < 248) id += BASE62[b % 62]
    }
    out[i] = Buffer.from(id, 'latin1').toString('latin1') // one flat string, as a driver returns it
  }
  return out
}

// Ids are inserted in sorted order (appends to the primary-key B-tree instead of random page
// splits: a million random inserts took ~400 s on SQLite here); lookups stay random.
let pending: string[] = []
function rows(n: number, each: (keyId: string, sealed: Buffer, i: number) => void): string[] {
  if (pending.length === 0) pending = keyIds(size).sort()
  const ids = pending.splice(0, n)
  for (let i = 0; i < n; i++) {
    const keyId = ids[i] as string
    const s = sealSecret(ring, keyId, secret)
    each(keyId, Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength), i)
  }
  return ids
}

type Opened = {
  store: EncryptedKeyStore
  ids: string[]
  cleanup: () => Promise<void>
  populateMs: number
  driver?: string
  /** The query plans of the lookup and of a list page after a cursor, as the database reports them. */
  plans: (mid: string) => Promise<Record<string, string>>
}

async function openSqlite(): Promise<Opened> {
  const dir = place ?? mkdtempSync(join(tmpdir(), 'sigil-keys-bench-'))
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'keys.db')
  const t0 = performance.now()
  createSqliteKeyStore({ path, masterKey: ring }).close() // migrations + check value
  // Populated through the same seam and driver the store opens with.
  const db = openSqliteDatabase(path)
  db.exec('PRAGMA cache_size = -262144')
  const ins = db.prepare(
    `INSERT INTO sigil_keys (key_id, principal, scopes, status, created_at, updated_at, secret_ciphertext, master_key_version) VALUES (?, ?, '["read"]', 'active', ?, ?, ?, ?)`,
  )
  const now = Date.now()
  let ids: string[] = []
  for (let done = 0; done < size; done += SQLITE_BATCH) {
    const n = Math.min(SQLITE_BATCH, size - done)
    db.immediate(() => {
      ids = ids.concat(rows(n, (keyId, sealed, i) => ins.run(keyId, `p${(done + i) % 1000}`, now, now, sealed, ring.current)))
    })
  }
  db.exec('ANALYZE')
  const driver = db.driver
  db.close()
  const populateMs = performance.now() - t0
  const store = createSqliteKeyStore({ path, masterKey: ring })
  // The statements of sqlite-backend.ts (lookup; a list page after a cursor).
  const plans = async (mid: string) => {
    const ro = openSqliteDatabase(path, { readonly: true })
    const plan = (sql: string, ...p: string[]) =>
      ro
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...p)
        .map((r) => r.detail)
        .join('; ')
    try {
      return {
        get: plan('SELECT * FROM "sigil_keys" WHERE key_id = ?', mid),
        list: plan('SELECT * FROM "sigil_keys" WHERE key_id > ? ORDER BY key_id LIMIT 100', mid),
      }
    } finally {
      ro.close()
    }
  }
  return { store, ids, populateMs, driver, plans, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
}

async function openPostgres(): Promise<Opened> {
  const schema = place ?? `sigil_keys_bench_${process.pid}`
  const t0 = performance.now()
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  const store = await createPostgresKeyStore({ connectionString: PG_URL, masterKey: ring, schema })
  let ids: string[] = []
  await admin.query('BEGIN')
  for (let done = 0; done < size; done += PG_BATCH) {
    const n = Math.min(PG_BATCH, size - done)
    const hex: string[] = []
    const batch = rows(n, (_k, sealed) => hex.push(sealed.toString('hex')))
    await admin.query(
      `INSERT INTO ${schema}.sigil_keys (key_id, principal, scopes, status, created_at, updated_at, secret_ciphertext, master_key_version)
       SELECT k, 'p' || ((ord + $4) % 1000), '["read"]'::jsonb, 'active', now(), now(), decode(c, 'hex'), $3
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(k, c, ord)`,
      [batch, hex, ring.current, done],
    )
    ids = ids.concat(batch)
  }
  await admin.query('COMMIT')
  await admin.query(`ANALYZE ${schema}.sigil_keys`)
  const populateMs = performance.now() - t0
  // The statements of postgres-backend.ts (lookup; a list page after a cursor), run once under
  // EXPLAIN ANALYZE: the plan and the server's own execution time, apart from the round trip.
  const cols =
    'key_id, principal, scopes, status, created_at, updated_at, expires_at, not_after, revoked_at, replaced_by, limits, metadata, secret_ciphertext, master_key_version, version'
  const t = `"${schema}"."sigil_keys"`
  const plan = async (sql: string, p: unknown[]) =>
    (await admin.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, p)).rows.map((r) => String(r['QUERY PLAN']).trim()).join('; ')
  const plans = async (mid: string) => ({
    get: await plan(`SELECT ${cols} FROM ${t} WHERE key_id = $1`, [mid]),
    list: await plan(`SELECT ${cols} FROM ${t} WHERE key_id COLLATE "C" > $1 ORDER BY key_id COLLATE "C" LIMIT $2`, [mid, 100]),
  })
  return {
    store,
    ids,
    populateMs,
    plans,
    cleanup: async () => {
      await store.close()
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.end()
    },
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
let seed = 12345
// xorshift32: deterministic, uniform enough for picking keys.
const rnd = (n: number) => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) % n
}
const picks = (ids: string[], n: number) => Array.from({ length: n }, () => ids[rnd(ids.length)] as string)

// `n` random key ids as a request delivers them: each Signature-Input value is a new string (node's
// HTTP parser copies header values out of the socket buffer) and the structured-field parser
// slices the keyid parameter out of it (a V8 sliced string whose hash was never computed).
const SIG_HEAD = 'sig1=("@method" "@authority" "@path" "content-digest");created=1735689600;keyid="'
const SIG_TAIL = '";alg="hmac-sha256";tag="sigil"'
function fromHeaders(ids: string[], n: number): string[] {
  return delivered(picks(ids, n))
}
/** Each of `chosen` as a request delivers it (see fromHeaders). */
function delivered(chosen: string[]): string[] {
  const n = chosen.length
  const wire = Buffer.from(chosen.map((k) => SIG_HEAD + k + SIG_TAIL).join(''), 'latin1')
  const out: string[] = new Array(n)
  let at = 0
  for (let i = 0; i < n; i++) {
    const len = SIG_HEAD.length + (chosen[i] as string).length + SIG_TAIL.length
    const value = wire.toString('latin1', at, at + len)
    out[i] = value.slice(SIG_HEAD.length, len - SIG_TAIL.length)
    at += len
  }
  return out
}

// Each timer returns the median over batches of µs per op: wall time for PostgreSQL (it waits on
// the server), CPU time of this process otherwise, so a loaded shared machine (other processes
// taking the CPU away mid-batch) does not inflate in-process figures.
const cpuNow = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const clockFor = (wall: boolean) => (wall ? () => performance.now() : cpuNow)

async function timeAsync(keys: string[], per: number, batches: number, call: (k: string) => unknown, wall = false): Promise<number> {
  const now = clockFor(wall)
  const out: number[] = []
  let j = 0
  for (let b = 0; b < batches; b++) {
    const t = now()
    for (let i = 0; i < per; i++) await call(keys[j++ % keys.length] as string)
    out.push(((now() - t) * 1000) / per)
  }
  return median(out)
}

function timeSync(keys: string[], per: number, batches: number, call: (k: string) => unknown): number {
  const out: number[] = []
  let j = 0
  let sink = 0
  for (let b = 0; b < batches; b++) {
    const t = cpuNow()
    for (let i = 0; i < per; i++) if (call(keys[j++ % keys.length] as string) !== CACHE_MISS) sink++
    out.push(((cpuNow() - t) * 1000) / per)
  }
  if (sink < 0) console.error(sink)
  return median(out)
}

function rss(): number {
  for (let i = 0; i < 4; i++) gc?.()
  return process.memoryUsage().rss
}

if (backend === 'cache') {
  console.log(JSON.stringify(await cacheCell()))
  process.exit(0)
}

const { store, ids, cleanup, populateMs, driver, plans } = backend === 'sqlite' ? await openSqlite() : await openPostgres()
try {
  const sample = picks(ids, 20_000)
  const isPg = backend === 'postgres'
  // Uncached lookups, and (from 10k keys) a cache ten times smaller than the key set under random
  // traffic over every key: its miss path must cost no more than the store itself (no evict →
  // reload thrash). Batches of the two alternate so both see the same machine load.
  const per = isPg ? 10 : 100
  const rounds = isPg ? 200 : 60
  const max = Math.floor(size / 10)
  const cache = size >= 10_000 ? createCachedKeyStore(store, { max, ttlMs: 3_600_000 }) : undefined
  // Warm-up: at least 1,000 lookups (PostgreSQL: 2,000), so no cell times code V8 has not optimized yet.
  await timeAsync(sample, per, isPg ? 200 : 10, (k) => store.get(k), isPg)
  // Warm the small cache with twice its size in lookups (PostgreSQL: 64 at a time on the pool).
  const warm = 2 * max
  if (cache && isPg) {
    const keys = picks(ids, warm)
    for (let i = 0; i < warm; i += 64) await Promise.all(keys.slice(i, i + 64).map((k) => cache.get(k)))
  } else if (cache) await timeAsync(picks(ids, warm), per, Math.ceil(warm / per), (k) => cache.get(k), isPg)
  // Each batch gets its own random keys (the store and the cache never read the same keys back to
  // back, which would hand the second one warm pages), and the two alternate which goes first.
  // Besides `get` (a promise per call): `lookup` where it answers synchronously (SQLite), as verify() calls it.
  const storeRuns: number[] = []
  const cacheRuns: number[] = []
  const storeLookupRuns: number[] = []
  const cacheLookupRuns: number[] = []
  const storeLookup = store.lookup?.bind(store)
  const traffic = fromHeaders(ids, 4 * per * rounds)
  let at = 0
  const next = () => {
    at += per
    return traffic.slice(at - per, at)
  }
  for (let r = 0; r < rounds; r++) {
    const steps: Array<() => Promise<void>> = [async () => void storeRuns.push(await timeAsync(next(), per, 1, (k) => store.get(k), isPg))]
    if (cache) steps.push(async () => void cacheRuns.push(await timeAsync(next(), per, 1, (k) => cache.get(k), isPg)))
    if (storeLookup) {
      steps.push(async () => void storeLookupRuns.push(timeSync(next(), per, 1, storeLookup)))
      if (cache) steps.push(async () => void cacheLookupRuns.push(timeSync(next(), per, 1, (k) => cache.lookup(k))))
    }
    if (r % 2) steps.reverse()
    for (const step of steps) await step()
  }
  const getUs = median(storeRuns)
  const lookupUs = storeLookup ? median(storeLookupRuns) : undefined
  let small: Record<string, number> | undefined
  if (cache) {
    const us = median(cacheRuns)
    const s = cache.stats()
    small = { max, us, ratioToStore: us / getUs, hitRatio: s.hits / (s.hits + s.misses), evictions: s.evictions, rejected: s.rejected }
    if (lookupUs !== undefined) {
      small.lookupUs = median(cacheLookupRuns)
      small.lookupRatioToStore = small.lookupUs / lookupUs
    }
  }

  // A list page (cursor pagination), first page and one from the middle.
  const mid = [...ids].sort()[Math.floor(ids.length / 2)] as string
  const pageTimes: number[] = []
  for (let i = 0; i < 10; i++) {
    const t = performance.now()
    await store.list({ limit: 100, ...(i % 2 ? { after: mid } : {}) })
    pageTimes.push(performance.now() - t)
  }
  const plan = await plans(mid)
  console.log(
    JSON.stringify({
      backend,
      size,
      ...(driver ? { driver } : {}),
      populateMs,
      getUs,
      ...(lookupUs === undefined ? {} : { lookupUs }),
      small,
      listPageMs: median(pageTimes),
      plan,
    }),
  )
} finally {
  if (backend === 'sqlite') await store.close()
  await cleanup()
}

/**
 * The cache's own figures at `size` entries: the hit path does not touch the backend, so the table
 * is filled from records shaped exactly like a real store's `get()` answer (one fetched from a
 * SQLite store, then copied per key with its own id, secret buffer, dates and scopes array).
 *
 * Every timed lookup presents a key id as a request delivers it: a new string sliced out of a new
 * Signature-Input value (see `fromHeaders`), never the string that was inserted, so nothing is
 * served from V8's per-string hash cache or from a pointer comparison. The batch is built before
 * the clock starts; the loop's own cost (array read, call, compare) is timed the same way with an
 * identity function and reported beside, and subtracted in the `net` figures.
 */
async function cacheCell() {
  const probe = createSqliteKeyStore({ path: ':memory:', masterKey: ring })
  const { keyId } = await probe.create({ principal: 'partner-0001', scopes: ['orders:read', 'orders:write'] })
  const template = (await probe.get(keyId)) as KeyRecord
  await probe.close()
  const ids = keyIds(size)
  const make = (k: string): KeyRecord => {
    return {
      ...template,
      keyId: k,
      principal: `${template.principal}${k.slice(0, 2)}`,
      scopes: [...template.scopes],
      createdAt: new Date(template.createdAt.getTime()),
      secret: new Uint8Array(template.secret), // its own 32-byte array, as openSecret returns it
    }
  }
  const heap = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
  const rss0 = rss()
  const heap0 = heap()
  const records = ids.map(make)
  const rss1 = rss()
  const heap1 = heap()
  // The cache's own structures on top of the records: filled through a synchronous resolver
  // handing out the records made above, in order.
  // The key ids are presented as requests deliver them (slices of header values): whatever the
  // cache keeps of them counts here, as it would in a server.
  let next = 0
  const cache = createCachedKeyStore({ get: (_keyId: string) => records[next++] }, { max: Math.max(size, 1), ttlMs: 3_600_000 })
  for (let at = 0; at < size; at += 10_000) for (const k of delivered(ids.slice(at, at + 10_000))) await cache.get(k)
  const rss2 = rss()
  const heap2 = heap()

  const bare = new Map<string, KeyRecord>()
  for (let i = 0; i < size; i++) bare.set(ids[i] as string, records[i] as KeyRecord)
  const per = 5_000
  const identity = (k: string) => k
  const cases: Record<string, (k: string) => unknown> = {
    loop: identity,
    getSync: (k) => cache.getSync(k),
    lookup: (k) => cache.lookup(k),
    mapGet: (k) => bare.get(k),
  }
  const runs: Record<string, number[]> = { loop: [], getSync: [], lookup: [], mapGet: [], mapGetSame: [], get: [] }
  const round = async (keep: boolean) => {
    for (const [name, call] of Object.entries(cases)) {
      const t = timeSync(fromHeaders(ids, per), per, 1, call)
      if (keep) runs[name]?.push(t)
    }
    // The old way of measuring, for comparison: the very strings that were inserted.
    const t = timeSync(picks(ids, per), per, 1, cases.mapGet as (k: string) => unknown)
    const g = await timeAsync(fromHeaders(ids, per), per, 1, (k) => cache.get(k))
    if (keep) {
      runs.mapGetSame?.push(t)
      runs.get?.push(g)
    }
  }
  for (let r = 0; r < 10; r++) await round(false)
  for (let r = 0; r < 60; r++) await round(true)
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<string, number>
  const loop = m.loop as number
  const out = {
    backend: 'cache',
    size,
    loopUs: loop,
    getSyncUs: m.getSync,
    getSyncNetUs: (m.getSync as number) - loop,
    lookupUs: m.lookup,
    getUs: m.get,
    mapGetUs: m.mapGet,
    mapGetNetUs: (m.mapGet as number) - loop,
    mapGetSameStringUs: m.mapGetSame,
    recordRssPerKey: (rss1 - rss0) / size,
    recordHeapPerKey: (heap1 - heap0) / size,
    rssPerKey: (rss2 - rss1) / size,
    heapPerKey: (heap2 - heap1) / size,
    stats: cache.stats(),
  }
  if (out.stats.size !== size || out.stats.loads !== size) throw new Error('the cache did not keep every key')
  return out
}
