// Restore never resurrects silently (issue 24 item 6): revocations, rotations and earlier
// expiries recorded after the backup survive it unless the operator names the key after seeing
// the diff; the restore is announced to caches (onChange) and fan-out (Redis), and audited.
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CliIo } from '@sigil/cli'
import { run } from '@sigil/cli'
import { SigilError } from '@sigil/core'
import { createCachedKeyStore, generateMasterKey } from '@sigil/keys'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { keyLayout } from '@sigil/redis'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { TEST_REDIS_URL } from '../helpers/services.js'

const dir = mkdtempSync(join(tmpdir(), 'sigil-restore-'))
const file = (name: string) => join(dir, `${randomBytes(4).toString('hex')}-${name}`)

/** The run: 12 keys, a backup, then 5 revoked, 5 rotated away with zero grace, 1 created. */
async function scenario(path: string, masterKey: string) {
  const s = createSqliteKeyStore({ path, masterKey })
  const keys = []
  for (let i = 0; i < 12; i++) keys.push((await s.create({ principal: `p${i % 3}`, scopes: ['orders:read'] })).keyId)
  const bak = file('backup.db')
  await s.backup(bak)
  const revoked = keys.slice(0, 5)
  const rotated = keys.slice(5, 10)
  for (const k of revoked) await s.revoke(k)
  const replacements = []
  for (const k of rotated) replacements.push((await s.rotate(k, { graceMs: 0 })).keyId)
  const late = (await s.create({ principal: 'p0' })).keyId
  await s.update(keys[10] as string, { addScopes: ['admin'] })
  return { s, keys, bak, revoked, rotated, replacements, late }
}

describe('restore keeps what ended after the backup (SQLite)', () => {
  it('no revoked or rotated-away key comes back; the diff lists them; caches are told', async () => {
    const masterKey = generateMasterKey()
    const { s, keys, bak, revoked, rotated, replacements, late } = await scenario(file('keys.db'), masterKey)
    const cached = createCachedKeyStore(s)
    // Cached before the restore: a key the restore removes, and one it changes back.
    expect((await cached.get(late))?.status).toBe('active')
    expect((await cached.get(keys[10] as string))?.scopes).toEqual(['orders:read', 'admin'])

    const dry = await s.restore(bak, { replace: true, dryRun: true })
    expect(dry.dryRun).toBe(true)
    expect((await s.get(late))?.status).toBe('active') // nothing written
    const r = await s.restore(bak, { replace: true })
    expect(r.diff).toEqual(dry.diff)
    expect(r.diff.kept.map((k) => k.keyId).sort()).toEqual([...revoked, ...rotated].sort())
    for (const k of r.diff.kept) expect(k.ending).toEqual([revoked.includes(k.keyId) ? 'revoked' : 'rotated'])
    expect(r.diff.removed.sort()).toEqual([...replacements, late].sort())
    expect(r.diff.changed).toEqual([{ keyId: keys[10], fields: ['scopes'] }])
    expect(r.keys).toBe(12)

    for (const k of revoked) expect((await s.get(k))?.status).toBe('revoked')
    for (const k of rotated) expect((await s.get(k))?.status).toBe('expired')
    expect((await s.get(keys[11] as string))?.status).toBe('active')
    // The cache in front of the store dropped what the restore touched.
    expect(await cached.get(late)).toBeUndefined()
    expect((await cached.get(keys[10] as string))?.scopes).toEqual(['orders:read'])
    // Audited, with what it kept.
    const [event] = await s.events({ limit: 1 })
    expect(event).toMatchObject({ action: 'key.restore', detail: { keys: 12 } })
    expect(event?.detail?.kept).toHaveLength(10)

    // A second restore of the same backup still keeps them (the store now holds the tombstones).
    const again = await s.restore(bak, { replace: true })
    expect(again.diff.kept.length).toBe(10)
    for (const k of revoked) expect((await s.get(k))?.status).toBe('revoked')
    await s.close()
  })

  it('brings back only the keys the operator names with resurrect, and refuses a name the diff does not list', async () => {
    const masterKey = generateMasterKey()
    const { s, keys, bak, revoked } = await scenario(file('keys.db'), masterKey)
    const err = await s.restore(bak, { replace: true, resurrect: [keys[11] as string] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SigilError)
    expect((err as Error).message).toContain('Nothing was written')
    expect((await s.get(revoked[0] as string))?.status).toBe('revoked')
    const r = await s.restore(bak, { replace: true, resurrect: [revoked[0] as string] })
    expect(r.diff.resurrected).toEqual([{ keyId: revoked[0], ending: ['revoked'] }])
    expect((await s.get(revoked[0] as string))?.status).toBe('active')
    expect((await s.get(revoked[1] as string))?.status).toBe('revoked')
    await s.close()
  })

  it('sigil keys restore prints the diff, keeps revocations, announces every touched key on Redis; --resurrect after the diff', async () => {
    const masterKey = generateMasterKey()
    const path = file('keys.db')
    const { s, bak, revoked, late } = await scenario(path, masterKey)
    await s.close()
    const prefix = `rec-restore-${process.pid}-${randomBytes(3).toString('hex')}`
    const sub = new Redis(TEST_REDIS_URL)
    const got: Array<{ type: string; keyId: string }> = []
    sub.on('message', (_c, m) => got.push(JSON.parse(m)))
    await sub.subscribe(keyLayout(prefix).channel)
    const out: string[] = []
    const io: CliIo = {
      stdout: { write: (x) => out.push(typeof x === 'string' ? x : new TextDecoder().decode(x)) },
      stderr: { write: () => {} },
      env: { SIGIL_MASTER_KEY: masterKey, SIGIL_STORE: path, SIGIL_REDIS_URL: 'redis://127.0.0.1:6379', SIGIL_REDIS_PREFIX: prefix },
      cwd: dir,
    }
    try {
      expect(await run(['keys', 'restore', bak, '--force'], io)).toBe(0)
      const text = out.join('')
      expect(text).toContain('kept ended')
      for (const k of revoked) expect(text).toContain(`${k} (revoked)`)
      expect(text).toContain('--resurrect KEY_ID')
      await expect.poll(() => got.length).toBeGreaterThanOrEqual(16)
      const announced = new Set(got.map((m) => m.keyId))
      for (const k of [...revoked, late]) expect(announced.has(k)).toBe(true)

      out.splice(0)
      expect(await run(['keys', 'restore', bak, '--force', '--resurrect', revoked[0] as string], io)).toBe(0)
      expect(out.join('')).toContain(`${revoked[0]} (was revoked)`)
    } finally {
      sub.disconnect()
    }
    const after = createSqliteKeyStore({ path, masterKey })
    expect((await after.get(revoked[0] as string))?.status).toBe('active')
    expect((await after.get(revoked[1] as string))?.status).toBe('revoked')
    await after.close()
  })
})
