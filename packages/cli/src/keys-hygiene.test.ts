// CLI hygiene around the embedded store: file modes, master-key handling, error mapping, bounds.
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMasterKey } from '@sigil/keys'
import { openSqliteDatabase, resolveSqliteDriver, SQLITE_DRIVERS, type SqliteDriverName } from '@sigil/keys/sqlite'
import { describe, expect, it } from 'vitest'
import { EXIT } from './exit-codes.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

// Another process's view of the file: a native driver (real POSIX locks), whichever runs the CLI.
const native = SQLITE_DRIVERS.find((d) => {
  try {
    return d !== 'wasm' && resolveSqliteDriver(d) === d
  } catch {
    return false
  }
}) as SqliteDriverName
const openNative = (file: string, o: { readonly?: boolean } = {}) => openSqliteDatabase(file, { ...o, driver: native })

function cli(env: Record<string, string>, cwd = mkdtempSync(join(tmpdir(), 'sigil-hygiene-'))) {
  const out: string[] = []
  const err: string[] = []
  const io: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: (s) => err.push(s) },
    env,
    cwd,
  }
  return { io, cwd, out: () => out.join(''), err: () => err.join(''), reset: () => out.splice(0) && err.splice(0) }
}

describe('sigil and the embedded store', () => {
  it('creates the store 0600 in a 0700 folder (WAL files too)', async () => {
    const c = cli({ SIGIL_MASTER_KEY: generateMasterKey() })
    expect(await run(['keys', 'create', '--principal', 'acme'], c.io)).toBe(0)
    expect(statSync(join(c.cwd, '.sigil')).mode & 0o777).toBe(0o700)
    expect(statSync(join(c.cwd, '.sigil', 'keys.db')).mode & 0o777).toBe(0o600)
    const db = openNative(join(c.cwd, '.sigil', 'keys.db'))
    db.prepare('SELECT count(*) FROM sigil_keys').get()
    expect(statSync(join(c.cwd, '.sigil', 'keys.db-wal')).mode & 0o777).toBe(0o600)
    db.close()
  })

  it('refuses a wrong SIGIL_MASTER_KEY at open: exit 78, nothing written', async () => {
    const right = generateMasterKey('v1')
    const c = cli({ SIGIL_MASTER_KEY: right })
    expect(await run(['keys', 'create', '--principal', 'acme'], c.io)).toBe(0)
    const file = join(c.cwd, '.sigil', 'keys.db')
    const db = openNative(file, { readonly: true })
    const before = db.prepare('SELECT count(*) AS n FROM sigil_keys').get()
    db.close()
    for (const wrong of [generateMasterKey('v1'), generateMasterKey('v1').slice(3)]) {
      const w = cli({ SIGIL_MASTER_KEY: wrong }, c.cwd)
      for (const args of [
        ['keys', 'create', '--principal', 'evil'],
        ['master-key', 'rotate'],
        ['keys', 'list'],
      ]) {
        expect(await run([...args, '--json'], w.io)).toBe(EXIT.CONFIG)
        expect(JSON.parse(w.err()).error.message).toMatch(/does not match this key store/)
        expect(w.err()).not.toContain(wrong.replace(/^v1:/, ''))
        w.reset()
      }
    }
    const after = openNative(file, { readonly: true })
    expect(after.prepare('SELECT count(*) AS n FROM sigil_keys').get()).toEqual(before)
    after.close()
  })

  it('master-key rotate never prints key material (bare and versioned forms, --json)', async () => {
    const bare = generateMasterKey('v1').slice(3)
    const c = cli({ SIGIL_MASTER_KEY: bare })
    expect(await run(['keys', 'create', '--principal', 'acme'], c.io)).toBe(0)
    const next = generateMasterKey('v2')
    for (const env of [{ SIGIL_MASTER_KEY: bare }, { SIGIL_MASTER_KEY: `${next},v1:${bare}` }]) {
      for (const json of [[], ['--json']]) {
        const r = cli(env, c.cwd)
        expect(await run(['master-key', 'rotate', ...json], r.io)).toBe(0)
        const all = r.out() + r.err()
        for (const secret of [bare, next.slice(3)]) expect(all).not.toContain(secret)
        expect(all).toMatch(/v[12]/)
      }
    }
  })

  it('master-key rotate refuses once (exit 78, one line) when SIGIL_MASTER_KEY lacks a version rows use, writing nothing', async () => {
    const v0 = generateMasterKey('v0')
    const v1 = generateMasterKey('v1')
    const c = cli({ SIGIL_MASTER_KEY: v0 })
    for (let i = 0; i < 2; i++) expect(await run(['keys', 'create', '--principal', 'old'], c.io)).toBe(0)
    const ok = cli({ SIGIL_MASTER_KEY: v1 }, c.cwd)
    for (let i = 0; i < 3; i++) expect(await run(['keys', 'create', '--principal', 'acme'], ok.io)).toBe(0)
    const r = cli({ SIGIL_MASTER_KEY: `${generateMasterKey('v2')},${v1}` }, c.cwd)
    expect(await run(['master-key', 'rotate'], r.io)).toBe(EXIT.CONFIG)
    const lines = r.err().trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/2 key\(s\) under master-key version v0/)
    const db = openNative(join(c.cwd, '.sigil', 'keys.db'), { readonly: true })
    try {
      const versions = db.prepare('SELECT master_key_version AS v, count(*) AS n FROM sigil_keys GROUP BY 1 ORDER BY 1').all()
      expect(versions.map((x) => [x.v, Number(x.n)])).toEqual([
        ['v0', 2],
        ['v1', 3],
      ])
    } finally {
      db.close()
    }
  })

  it('master-key rotate: --json progress lines on stderr, tampered rows reported (capped) and exit 1, the rest re-encrypted', async () => {
    const v1 = generateMasterKey('v1')
    const c = cli({ SIGIL_MASTER_KEY: v1 })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      c.reset()
      expect(await run(['keys', 'create', '--principal', 'acme', '--json'], c.io)).toBe(0)
      ids.push(JSON.parse(c.out()).keyId)
    }
    const tampered = ids[2] as string
    const db = openNative(join(c.cwd, '.sigil', 'keys.db'))
    try {
      db.prepare(`UPDATE sigil_keys SET scopes = '["admin"]' WHERE key_id = ?`).run(tampered)
    } finally {
      db.close()
    }
    const r = cli({ SIGIL_MASTER_KEY: `${generateMasterKey('v2')},${v1}` }, c.cwd)
    expect(await run(['master-key', 'rotate', '--json', '--batch-size', '2'], r.io)).toBe(EXIT.FAILURE)
    const j = JSON.parse(r.out())
    expect(j).toMatchObject({ reencrypted: 4, current: 'v2' })
    expect(j.failed).toEqual([{ keyId: tampered, reason: expect.stringMatching(/record authentication/) }])
    const progress = r
      .err()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(progress[0]).toEqual({ progress: 're-encrypting', done: 0, total: 5, failed: 0 })
    expect(progress.at(-1)).toEqual({ progress: 're-encrypting', done: 5, total: 5, failed: 1 })
    expect(progress).toHaveLength(4) // before the first batch, then one line per batch of 2
  })

  it('a store held busy by another writer is STORE_UNAVAILABLE, exit 4', async () => {
    const mk = generateMasterKey()
    const c = cli({ SIGIL_MASTER_KEY: mk })
    expect(await run(['keys', 'create', '--principal', 'acme'], c.io)).toBe(0)
    const holder = openNative(join(c.cwd, '.sigil', 'keys.db'))
    holder.exec('BEGIN IMMEDIATE')
    try {
      const b = cli({ SIGIL_MASTER_KEY: mk }, c.cwd)
      expect(await run(['keys', 'create', '--principal', 'acme', '--json'], b.io)).toBe(EXIT.STORE)
      expect(JSON.parse(b.err()).error).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/SQLITE_BUSY/) })
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
  }, 30_000)

  it('an unreachable PostgreSQL is STORE_UNAVAILABLE, exit 4', async () => {
    const c = cli({ SIGIL_MASTER_KEY: generateMasterKey(), SIGIL_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' })
    expect(await run(['keys', 'list', '--json'], c.io)).toBe(EXIT.STORE)
  })

  it('without fan-out, lifecycle changes print how long other instances may take', async () => {
    const c = cli({ SIGIL_MASTER_KEY: generateMasterKey() })
    await run(['keys', 'create', '--principal', 'acme', '--json'], c.io)
    const keyId = JSON.parse(c.out()).keyId as string
    for (const args of [
      ['keys', 'scopes', keyId, '--add', 'a'],
      ['keys', 'expire', keyId, '--in', '1h'],
      ['keys', 'revoke', keyId],
    ]) {
      const r = cli(c.io.env as Record<string, string>, c.cwd)
      expect(await run(args, r.io)).toBe(0)
      expect(r.err()).toMatch(/within their key-cache TTL \(30 s by default\).*SIGIL_REDIS_URL/)
    }
  })

  it('lists a page at a time with --limit and --after', async () => {
    const c = cli({ SIGIL_MASTER_KEY: generateMasterKey() })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      c.reset()
      await run(['keys', 'create', '--principal', 'acme', '--json'], c.io)
      ids.push(JSON.parse(c.out()).keyId)
    }
    ids.sort()
    const seen: string[] = []
    let after: string[] = []
    for (;;) {
      const r = cli(c.io.env as Record<string, string>, c.cwd)
      expect(await run(['keys', 'list', '--limit', '2', ...after, '--json'], r.io)).toBe(0)
      const page = JSON.parse(r.out()).map((k: { keyId: string }) => k.keyId)
      if (page.length === 0) break
      seen.push(...page)
      if (page.length === 2) expect(r.err()).toContain(`--after ${page[1]}`)
      after = ['--after', page[page.length - 1]]
    }
    expect(seen).toEqual(ids)
    expect(readFileSync(join(c.cwd, '.sigil', 'keys.db')).length).toBeGreaterThan(0)
  })
})
