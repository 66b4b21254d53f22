// Keys are never lost and never silently wrong, measured as the issue did: several processes at
// once, and SIGKILL at random points, on SQLite and on the real PostgreSQL (own schema per run).
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { signRequest } from '@sigil/client'
import { parseToken } from '@sigil/core'
import { type EncryptedKeyStore, generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore, resolveSqliteDriver, SQLITE_DRIVERS, type SqliteDriverName, type SqliteKeyStore } from '@sigil/keys/sqlite'
import { verify } from '@sigil/server'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const child = fileURLToPath(new URL('./child.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')
const url = TEST_DATABASE_URL
const schemas: string[] = []
const dir = mkdtempSync(join(tmpdir(), 'sigil-durability-'))

afterAll(async () => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await c.end()
})

type Backend = 'sqlite' | 'postgres'
function location(backend: Backend) {
  if (backend === 'sqlite') return { backend, path: join(dir, `${randomBytes(6).toString('hex')}.db`) }
  const schema = `sigil_durability_${randomBytes(6).toString('hex')}`
  schemas.push(schema)
  return { backend, url, schema }
}
type Where = ReturnType<typeof location>
async function open(where: Where, masterKey: string): Promise<EncryptedKeyStore> {
  return where.backend === 'sqlite'
    ? createSqliteKeyStore({ path: where.path as string, masterKey })
    : createPostgresKeyStore({ connectionString: url, schema: where.schema as string, masterKey })
}

// SIGIL_SQLITE_DRIVER picks the SQLite driver here and in the children (pnpm test:sqlite-drivers).
const driver = resolveSqliteDriver()
const available = (d: SqliteDriverName) => {
  try {
    return resolveSqliteDriver(d) === d
  } catch {
    return false
  }
}
const native = SQLITE_DRIVERS.find((d) => d !== 'wasm' && available(d)) as SqliteDriverName

function start(
  job: object,
  env: Record<string, string> = {},
): {
  proc: ChildProcess
  lines: Array<Record<string, unknown>>
  ready: Promise<void>
  exit: Promise<number | null>
  stderr: () => string
} {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', tsx, child, JSON.stringify(job)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  const lines: Array<Record<string, unknown>> = []
  let buf = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((r) => {
    onReady = r
  })
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = JSON.parse(buf.slice(0, i))
      buf = buf.slice(i + 1)
      if (l.ready) onReady()
      else lines.push(l)
    }
  })
  let err = ''
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exit = new Promise<number | null>((r) =>
    proc.on('exit', (code) => {
      if (code && !quiet.has(proc)) console.error(err)
      r(code)
    }),
  )
  return { proc, lines, ready, exit, stderr: () => err }
}

/** A real signed request through `verify()` with the store as the key resolver. */
async function verifies(store: EncryptedKeyStore, token: string): Promise<boolean> {
  const req = await signRequest(new Request('https://api.example.com/orders', { method: 'GET' }), { token })
  try {
    await verify(req, { keys: store })
    return true
  } catch {
    return false
  }
}

// Children expected to fail (refused by the lock protocol) do not print their stack.
const quiet = new WeakSet<ChildProcess>()

describe.each<Backend>(['sqlite', 'postgres'])(`key store durability: %s (SQLite: ${driver})`, (backend) => {
  it('concurrent scope edits from 4 processes lose nothing', async () => {
    const where = location(backend)
    const mk = generateMasterKey()
    const setup = await open(where, mk)
    const removes = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']
    const { keyId } = await setup.create({ principal: 'acme', scopes: ['keep', ...removes] })
    await setup.close()
    const adds = Array.from({ length: 4 }, (_, p) => Array.from({ length: 15 }, (_, i) => `p${p}-s${i}`))
    const procs = adds.map((a, p) =>
      start({ ...where, masterKey: mk, mode: 'edit', keyId, adds: a, removes: p < 2 ? removes.slice(p * 3, p * 3 + 3) : [] }),
    )
    expect(await Promise.all(procs.map((p) => p.exit))).toEqual([0, 0, 0, 0])
    const s = await open(where, mk)
    const k = await s.info(keyId)
    expect([...(k?.scopes ?? [])].sort()).toEqual(['keep', ...adds.flat()].sort())
    expect(k?.version).toBe(60 + removes.length)
    await s.close()
  }, 120_000)

  it('survives SIGKILL at random points during create, rotate and rotateMasterKey', async () => {
    const where = location(backend)
    const v1 = generateMasterKey('v1')
    const v2 = generateMasterKey('v2')
    const rings = [`${v2},${v1}`, `${v1},${v2}`]
    const seed = await open(where, rings[0] as string)
    const tokens = new Map<string, string>()
    for (let i = 0; i < 40; i++) {
      const c = await seed.create({ principal: 'seed' })
      tokens.set(c.keyId, c.token)
    }
    await seed.close()
    const kills = 8
    let printed = 0
    for (let k = 0; k < kills; k++) {
      // Alternate the current version so every run has the whole table to re-encrypt.
      const c = start({ ...where, masterKey: rings[k % 2], mode: 'churn' })
      await c.ready
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 900))
      c.proc.kill('SIGKILL')
      await c.exit
      for (const l of c.lines) {
        if (typeof l.token === 'string') tokens.set(l.created as string, l.token)
        printed++
      }
    }
    expect(printed).toBeGreaterThan(0)
    const s = await open(where, rings[0] as string)
    // Every token that was ever printed verifies: no printed token without its row, no torn row.
    const failed: string[] = []
    for (const [keyId, token] of tokens) {
      expect(parseToken(token).keyId).toBe(keyId)
      if (!(await verifies(s, token))) failed.push(keyId)
    }
    expect(failed).toEqual([])
    // One re-run completes, and afterwards v1 can be retired.
    const r = await s.rotateMasterKey()
    expect(r.failed).toEqual([])
    await s.close()
    const only2 = await open(where, v2)
    for (const token of [...tokens.values()].slice(0, 25)) expect(await verifies(only2, token)).toBe(true)
    expect((await only2.list({ limit: 10_000 })).every((k) => k.masterKeyVersion === 'v2')).toBe(true)
    await only2.close()
  }, 180_000)
})

describe(`backup and restore of the embedded store (${driver})`, () => {
  it('VACUUM INTO under concurrent writers: restore gives back every key committed before the backup, and they verify', async () => {
    const where = location('sqlite')
    const mk = generateMasterKey('v1')
    const s = (await open(where, mk)) as SqliteKeyStore
    const before = new Map<string, string>()
    for (let i = 0; i < 30; i++) {
      const c = await s.create({ principal: 'acme', scopes: ['orders:read'] })
      before.set(c.keyId, c.token)
    }
    const writers: Array<ReturnType<typeof start>> = []
    if (driver === 'wasm') {
      // The wasm driver holds the file alone: another process is refused (after the busy timeout), never let in.
      const refused = start({ ...where, masterKey: mk, mode: 'churn' })
      quiet.add(refused.proc)
      expect(await refused.exit).not.toBe(0)
      expect(refused.stderr()).toMatch(/STORE_UNAVAILABLE/)
      expect(refused.stderr()).toMatch(new RegExp(`SQLITE_BUSY: .* held by process ${process.pid} through the wasm SQLite driver`))
      expect(refused.lines).toEqual([])
    } else {
      writers.push(start({ ...where, masterKey: mk, mode: 'churn' }), start({ ...where, masterKey: mk, mode: 'churn' }))
      await Promise.all(writers.map((w) => w.ready))
      await new Promise((r) => setTimeout(r, 300))
    }
    const committed = new Set((await s.list()).map((k) => k.keyId))
    const file = join(dir, `backup-${randomBytes(4).toString('hex')}.db`)
    await s.backup(file)
    for (const w of writers) w.proc.kill('SIGKILL')
    await Promise.all(writers.map((w) => w.exit))
    expect(statSync(file).mode & 0o777).toBe(0o600)
    await expect(s.backup(file)).rejects.toThrow(/already exists/)
    await s.close()

    // A fresh store on another machine: same master key, restore, every key verifies.
    const target = location('sqlite')
    const t = (await open(target, mk)) as SqliteKeyStore
    const { keys } = await t.restore(file)
    expect(keys).toBeGreaterThanOrEqual(committed.size)
    const restored = new Set((await t.list()).map((k) => k.keyId))
    for (const id of committed) expect(restored.has(id)).toBe(true)
    for (const token of before.values()) expect(await verifies(t, token)).toBe(true)
    // Restoring over keys needs replace; a backup under another master key is refused.
    await expect(t.restore(file)).rejects.toThrow(/replaces them all/)
    expect((await t.restore(file, { replace: true })).keys).toBe(keys)
    await t.close()
    const other = location('sqlite')
    const o = (await open(other, generateMasterKey('v1'))) as SqliteKeyStore
    await expect(o.restore(file)).rejects.toThrow(/does not match this key store/)
    expect((await o.list()).length).toBe(0)
    await o.close()
    expect(existsSync(file)).toBe(true)
  }, 120_000)
})

// node-sqlite3-wasm cannot take the POSIX locks native SQLite takes; the lock protocol in
// sqlite-wasm-lock.ts keeps the two from ever writing one file at once. Both orders, real processes.
describe(`the wasm driver and ${native} never share a file`, () => {
  it('a wasm store refuses a file a native process has open; a native store waits for a wasm holder, then opens', async () => {
    const where = location('sqlite')
    const mk = generateMasterKey()
    const path = where.path as string
    const seed = createSqliteKeyStore({ path, masterKey: mk, driver: native })
    await seed.create({ principal: 'acme' })
    await seed.close()

    // A native writer is running: the wasm driver says who holds the file and does not open it.
    const writer = start({ ...where, masterKey: mk, mode: 'churn' }, { SIGIL_SQLITE_DRIVER: native })
    await writer.ready
    const refused = (() => {
      try {
        createSqliteKeyStore({ path, masterKey: mk, driver: 'wasm', busyTimeoutMs: 200 })
        return undefined
      } catch (e) {
        return e as { code?: string; message?: string }
      }
    })()
    writer.proc.kill('SIGKILL')
    await writer.exit
    expect(refused?.code).toBe('STORE_UNAVAILABLE')
    expect(refused?.message).toMatch(new RegExp(`SQLITE_BUSY.*process ${writer.proc.pid}.*native`))
    expect(existsSync(`${path}.lock`)).toBe(false)

    // A wasm store is open here: a native process waits its busy timeout, then is refused by name.
    const held = createSqliteKeyStore({ path, masterKey: mk, driver: 'wasm' })
    const before = (await held.list()).length
    const blocked = start({ ...where, masterKey: mk, mode: 'churn' }, { SIGIL_SQLITE_DRIVER: native })
    quiet.add(blocked.proc)
    expect(await blocked.exit).not.toBe(0)
    expect(blocked.stderr()).toMatch(new RegExp(`held by process ${process.pid} through the wasm SQLite driver`))
    expect(blocked.lines).toEqual([])
    await held.create({ principal: 'acme' })
    expect((await held.list()).length).toBe(before + 1)
    await held.close()

    // Once the wasm store has closed, the native process opens and writes.
    const after = start({ ...where, masterKey: mk, mode: 'churn' }, { SIGIL_SQLITE_DRIVER: native })
    await after.ready
    await new Promise((r) => setTimeout(r, 200))
    after.proc.kill('SIGKILL')
    await after.exit
    const s = createSqliteKeyStore({ path, masterKey: mk, driver: native })
    expect((await s.list()).length).toBeGreaterThan(before + 1)
    await s.close()
  }, 60_000)

  it('a lock left by a SIGKILLed wasm process is cleared; one left by a live process is respected', async () => {
    const where = location('sqlite')
    const mk = generateMasterKey()
    const path = where.path as string
    const killed = start({ ...where, masterKey: mk, mode: 'churn' }, { SIGIL_SQLITE_DRIVER: 'wasm' })
    await killed.ready
    await new Promise((r) => setTimeout(r, 300))
    killed.proc.kill('SIGKILL')
    await killed.exit
    expect(existsSync(`${path}.lock`)).toBe(true) // the dead process's lock directory is still there
    const s = createSqliteKeyStore({ path, masterKey: mk, driver: 'wasm', busyTimeoutMs: 200 })
    const printed = killed.lines.filter((l) => typeof l.token === 'string')
    for (const l of printed) expect(await verifies(s, l.token as string)).toBe(true)
    // While we hold it, the lock names this live process and another wasm process is refused.
    const other = start({ ...where, masterKey: mk, mode: 'churn' }, { SIGIL_SQLITE_DRIVER: 'wasm' })
    quiet.add(other.proc)
    expect(await other.exit).not.toBe(0)
    expect(other.lines).toEqual([])
    await s.close()
    expect(existsSync(`${path}.lock`)).toBe(false)
  }, 60_000)
})

// Issue class: a process the lock protocol turns away must leave the holder's file as it was.
// Every pair of available drivers, in both roles; the second process either runs to its end
// (refused, or admitted where both are native) or is SIGKILLed part-way through its attempt.
// Afterwards the holder still reads every key from the file (no cache in between) and writes.
const drivers = SQLITE_DRIVERS.filter(available)
const pairs = drivers.flatMap((holder) => drivers.map((intruder) => [holder, intruder] as const))
describe.each(pairs)('a %s store open in a server, a %s process beside it', (holder, intruder) => {
  const shared = holder !== 'wasm' && intruder !== 'wasm' // POSIX locks on both sides: WAL readers share
  for (const killAfterMs of [undefined, 0, 40, 120]) {
    it(`${killAfterMs === undefined ? 'runs to its end' : `is SIGKILLed after ${killAfterMs} ms`}: the holder keeps reading every key and writing`, async () => {
      const where = location('sqlite')
      const mk = generateMasterKey()
      const path = where.path as string
      const held = createSqliteKeyStore({ path, masterKey: mk, driver: holder })
      const tokens: string[] = []
      for (let i = 0; i < 30; i++) tokens.push((await held.create({ principal: `p${i % 3}` })).token)
      const other = start({ ...where, masterKey: mk, mode: 'read', busyTimeoutMs: 300 }, { SIGIL_SQLITE_DRIVER: intruder })
      quiet.add(other.proc)
      if (killAfterMs !== undefined) {
        await new Promise((r) => setTimeout(r, killAfterMs))
        other.proc.kill('SIGKILL')
      }
      const code = await other.exit
      if (killAfterMs === undefined) {
        if (shared) expect(other.lines).toContainEqual({ listed: 30 })
        else {
          expect(code).not.toBe(0) // refused by the lock protocol, and it says what to do
          expect(other.lines).toEqual([])
          expect(other.stderr()).toMatch(/better-sqlite3|Node/)
        }
      }
      for (const t of tokens) expect(await verifies(held, t)).toBe(true)
      await held.create({ principal: 'after' })
      expect((await held.list()).length).toBe(31)
      await held.close()
      // The file as the next process sees it: every key, through a native driver.
      const reopened = createSqliteKeyStore({ path, masterKey: mk, driver: native })
      expect((await reopened.list()).length).toBe(31)
      for (const t of tokens.slice(0, 5)) expect(await verifies(reopened, t)).toBe(true)
      await reopened.close()
      expect(existsSync(`${path}.lock`)).toBe(false)
    }, 30_000)
  }
})
