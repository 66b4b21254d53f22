// A writer for the outbox crash test: changes keys at random (create, scope edits, expire,
// rotate, revoke) through one store, as `actor`, until SIGKILLed. Prints nothing: the test reads
// the store afterwards, so what counts is only what committed.
import type { EncryptedKeyStore } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'

const job = JSON.parse(process.argv[2] as string) as {
  backend: 'sqlite' | 'postgres'
  path?: string
  url?: string
  schema?: string
  masterKey: string
  actor: string
}
const store: EncryptedKeyStore =
  job.backend === 'sqlite'
    ? createSqliteKeyStore({ path: job.path as string, masterKey: job.masterKey, actor: job.actor, busyTimeoutMs: 10_000 })
    : await createPostgresKeyStore({
        connectionString: job.url as string,
        schema: job.schema as string,
        masterKey: job.masterKey,
        actor: job.actor,
      })
process.stdout.write('ready\n')
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)] as T
for (;;) {
  try {
    const live = await store.list({ status: 'active', limit: 50 })
    const r = Math.random()
    if (live.length < 5 || r < 0.25) await store.create({ principal: pick(['acme', 'globex']), scopes: ['a'] })
    else {
      const k = pick(live).keyId
      if (r < 0.5) await store.update(k, { addScopes: [pick(['b', 'c', 'd'])] })
      else if (r < 0.65) await store.update(k, { removeScopes: ['b'] })
      else if (r < 0.75) await store.expire(k, new Date(Date.now() + 3_600_000))
      else if (r < 0.88) await store.rotate(k, { graceMs: 60_000 })
      else await store.revoke(k)
    }
  } catch {
    // a lost race (KEY_EXPIRED on a concurrent rotation, busy): the next change goes on
  }
}
