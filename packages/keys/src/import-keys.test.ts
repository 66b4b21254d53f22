import { SigilError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { createBackedKeyStore } from './backed-key-store.js'
import { exportKeys } from './export-keys.js'
import { importKeys } from './import-keys.js'
import type { KeyBackend } from './key-backend.js'
import { generateMasterKey } from './master-key.js'
import { createMemoryBackend, createMemoryKeyStore } from './memory-store.js'

async function exported(masterKey: string) {
  const s = createMemoryKeyStore({ masterKey })
  const keys = await Promise.all(Array.from({ length: 6 }, (_, i) => s.create({ principal: `p${i}`, scopes: ['a'] })))
  await s.revoke(keys[0]?.keyId as string)
  const parts: string[] = []
  const r = await exportKeys(s, (c) => void parts.push(c))
  return { keys, text: parts.join(''), r }
}

describe('importKeys on a backend without batched inserts (one row at a time)', () => {
  it('imports every key with its secret and status, then skips them all on a re-run', async () => {
    const masterKey = generateMasterKey()
    const { keys, text, r } = await exported(masterKey)
    expect(r).toEqual({ keys: 6, revoked: 1, masterKeyVersions: { v1: 6 } })
    const target = createMemoryKeyStore({ masterKey })
    const progress: number[] = []
    expect(await importKeys(target, text, { onProgress: (p) => progress.push(p.done) })).toEqual({
      total: 6,
      imported: 6,
      present: 0,
      revoked: 1,
      resealed: false,
      dryRun: false,
    })
    expect(progress.at(-1)).toBe(6)
    for (const k of keys) expect(Buffer.from((await target.get(k.keyId))?.secret ?? []).equals(Buffer.from(k.secret))).toBe(true)
    expect((await target.info(keys[0]?.keyId as string))?.status).toBe('revoked')
    expect(await importKeys(target, text)).toMatchObject({ imported: 0, present: 6 })
  })

  it('a key id taken by another writer mid-import: the same row is accepted, another is a KEY_CONFLICT', async () => {
    const masterKey = generateMasterKey()
    const { keys, text } = await exported(masterKey)
    const backend = createMemoryBackend()
    // Another writer inserts a different row under the first absent id just before the import's insert.
    const racing: KeyBackend = {
      ...backend,
      async insert(row, event, limit) {
        if (row.keyId === keys[3]?.keyId) await backend.insert({ ...row, scopes: ['admin'] })
        return backend.insert(row, event, limit)
      },
    }
    const target = createBackedKeyStore(racing, { masterKey })
    const e = await importKeys(target, text, { concurrency: 1 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(SigilError)
    expect((e as SigilError).code).toBe('KEY_CONFLICT')
    expect((e as SigilError).message).toContain(keys[3]?.keyId)
  })

  it('dry run counts and writes nothing', async () => {
    const masterKey = generateMasterKey()
    const { text } = await exported(masterKey)
    const target = createMemoryKeyStore({ masterKey })
    expect(await importKeys(target, text, { dryRun: true })).toMatchObject({ imported: 6, present: 0, dryRun: true })
    expect(await target.list()).toHaveLength(0)
  })
})
