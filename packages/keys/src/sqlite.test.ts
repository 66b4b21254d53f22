import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateMasterKey } from '@sigil/keys'
import { createSqliteKeyStore, openSqliteDatabase, resolveSqliteDriver } from '@sigil/keys/sqlite'
import { describeEncryptedKeyStore, describeKeyStore, type KeyStoreHarness } from '@sigil/keys/testing'
import { describe, expect, it } from 'vitest'

function harness(): KeyStoreHarness {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-keys-'))
  const path = join(dir, 'nested', 'keys.db')
  return {
    open: (o) => createSqliteKeyStore({ path, ...o }),
    persistent: {
      dumpRows: () => {
        const db = openSqliteDatabase(path, { readonly: true })
        try {
          return db
            .prepare('SELECT * FROM sigil_keys')
            .all()
            .map((r) => Object.values(r))
        } finally {
          db.close()
        }
      },
      openWithoutMasterKey: () => createSqliteKeyStore({ path }),
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

// SIGIL_SQLITE_DRIVER picks the driver (pnpm test:sqlite-drivers runs this file on each).
const driver = resolveSqliteDriver()
describeKeyStore(`sqlite (${driver})`, harness)
describeEncryptedKeyStore(`sqlite (${driver})`, harness)

describe(`createSqliteKeyStore (${driver})`, () => {
  it('applies migrations once and reopens an existing file', async () => {
    const h = harness()
    const mk = generateMasterKey()
    const a = createSqliteKeyStore({ path: join(tmpdir(), 'x'), masterKey: mk, database: openSqliteDatabase(':memory:') })
    await a.close()
    const s1 = await h.open({ now: Date.now, masterKey: mk })
    await s1.create({ principal: 'p' })
    await s1.close()
    const s2 = await h.open({ now: Date.now, masterKey: mk })
    expect(await s2.list()).toHaveLength(1)
    await s2.close()
    const rows = h.persistent?.dumpRows() as unknown[][]
    expect(rows).toHaveLength(1)
    await h.cleanup?.()
  })

  it('does not create a database file when the master key is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-keys-'))
    expect(() => createSqliteKeyStore({ path: join(dir, 'sub', 'keys.db') })).toThrow(/SIGIL_MASTER_KEY/)
    expect(existsSync(join(dir, 'sub', 'keys.db'))).toBe(false)
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports an unopenable path as STORE_UNAVAILABLE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-keys-'))
    writeFileSync(join(dir, 'file'), '')
    expect(() => createSqliteKeyStore({ path: join(dir, 'file', 'keys.db'), masterKey: generateMasterKey() })).toThrow(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE' }),
    )
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers lookup synchronously (what verify() and the cache use), and a failed read as STORE_UNAVAILABLE', async () => {
    const db = openSqliteDatabase(':memory:')
    const s = createSqliteKeyStore({ database: db, masterKey: generateMasterKey() })
    const { keyId } = await s.create({ principal: 'p', scopes: ['orders:read'] })
    const found = s.lookup?.(keyId)
    expect(found).not.toBeInstanceOf(Promise)
    expect(found).toEqual(await s.get(keyId))
    expect(s.lookup?.('NoSuchKey123')).toBeUndefined()
    db.exec('DROP TABLE sigil_keys')
    expect(() => s.lookup?.(keyId)).toThrow(expect.objectContaining({ code: 'STORE_UNAVAILABLE' }))
    await expect(s.get(keyId)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
    await s.close()
  })
})
