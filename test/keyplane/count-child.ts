// A writer process for the key-count test: opens the store, says `ready`, waits for `go` on
// stdin (sent when every writer is ready), then creates and rotates keys of one principal under a partner's grant as fast as it can.
// Prints one JSON line: how many of its writes were accepted and refused.
import type { EncryptedKeyStore, KeyGrant } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'

const job = JSON.parse(process.argv[2] as string) as {
  backend: 'sqlite' | 'postgres'
  path?: string
  url?: string
  schema?: string
  masterKey: string
  principal: string
  maxKeys: number
  writes: number
}
const store: EncryptedKeyStore =
  job.backend === 'sqlite'
    ? createSqliteKeyStore({ path: job.path as string, masterKey: job.masterKey })
    : await createPostgresKeyStore({ connectionString: job.url as string, schema: job.schema as string, masterKey: job.masterKey })
const grant: KeyGrant = { principal: job.principal, scopes: ['orders:read'], maxKeys: job.maxKeys, extendExpiry: false }
process.stdout.write('ready\n')
await new Promise((r) => process.stdin.once('data', r))
process.stdin.pause()
let accepted = 0
const refused: Record<string, number> = {}
await Promise.all(
  Array.from({ length: job.writes }, async (_, i) => {
    try {
      if (i % 2 === 0) await store.create({ principal: job.principal, scopes: ['orders:read'] }, { grant })
      else {
        const [k] = (await store.list({ principal: job.principal, status: 'active' })).filter((x) => !x.replacedBy)
        if (!k) throw Object.assign(new Error('none'), { code: 'NONE' })
        await store.rotate(k.keyId, { graceMs: 3_600_000, grant })
      }
      accepted++
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'ERROR'
      refused[code] = (refused[code] ?? 0) + 1
    }
  }),
)
await store.close()
process.stdout.write(`${JSON.stringify({ accepted, refused })}\n`)
