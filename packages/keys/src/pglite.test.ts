import { PGlite } from '@electric-sql/pglite'
import { generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { describeEncryptedKeyStore, describeKeyStore, type KeyStoreHarness } from '@sigil/keys/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// One in-memory PGlite for the file (opening one costs about a second); a table per test.
const db = new PGlite()
let n = 0
beforeAll(() => db.waitReady)
afterAll(() => db.close())

function harness(): KeyStoreHarness {
  const table = `keys_${++n}`
  return {
    open: (o) => createPostgresKeyStore({ client: db, table, ...o }),
    persistent: {
      dumpRows: async () => (await db.query(`SELECT * FROM "${table}"`, [], { rowMode: 'array' })).rows as unknown[][],
      openWithoutMasterKey: () => createPostgresKeyStore({ client: db, table }),
    },
    cleanup: async () => {
      await db.exec(`DROP TABLE IF EXISTS "${table}", "${table}_migrations"`)
    },
  }
}

describeKeyStore('pglite', harness)
describeEncryptedKeyStore('pglite', harness)

describe('createPostgresKeyStore on PGlite', () => {
  it('looks keys up', async () => {
    const s = await createPostgresKeyStore({ client: db, table: `keys_${++n}`, masterKey: generateMasterKey() })
    const { keyId } = await s.create({ principal: 'p' })
    for (let i = 0; i < 100; i++) await s.get(keyId)
    const runs = 1000
    const t0 = performance.now()
    for (let i = 0; i < runs; i++) await s.get(keyId)
    const us = ((performance.now() - t0) * 1000) / runs
    console.log(`pglite get(): ${us.toFixed(0)} µs/lookup (in-memory, incl. AES-GCM decrypt)`)
    expect(us).toBeLessThan(20_000)
    await s.close()
  })
})
