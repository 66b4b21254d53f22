// A worker process for the durability tests: opens a key store and edits, creates, rotates or
// re-encrypts until told to stop (or SIGKILLed). Prints one JSON line per committed result.

import type { EncryptedKeyStore } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'

interface Job {
  backend: 'sqlite' | 'postgres'
  path?: string
  url?: string
  schema?: string
  masterKey: string
  mode: 'edit' | 'churn' | 'read'
  busyTimeoutMs?: number
  keyId?: string
  adds?: string[]
  removes?: string[]
}

const job = JSON.parse(process.argv[2] as string) as Job
const line = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)

async function open(): Promise<EncryptedKeyStore> {
  if (job.backend === 'sqlite') {
    const busy = job.busyTimeoutMs !== undefined ? { busyTimeoutMs: job.busyTimeoutMs } : {}
    return createSqliteKeyStore({ path: job.path as string, masterKey: job.masterKey, ...busy })
  }
  return createPostgresKeyStore({ connectionString: job.url as string, schema: job.schema as string, masterKey: job.masterKey })
}

const store = await open()
line({ ready: true })
if (job.mode === 'read') {
  // What an operator's `sigil keys list` does beside a live server: read everything, close.
  line({ listed: (await store.list()).length })
  await store.close()
  line({ done: true })
} else if (job.mode === 'edit') {
  const keyId = job.keyId as string
  const ops = [...(job.adds ?? []).map((s) => ({ addScopes: [s] })), ...(job.removes ?? []).map((s) => ({ removeScopes: [s] }))]
  for (const op of ops) await store.update(keyId, op)
  await store.close()
  line({ done: true })
} else {
  // Churn until killed: create, rotate what was created, re-encrypt everything.
  const mine: string[] = []
  for (let i = 0; ; i++) {
    const c = await store.create({ principal: `p${i % 7}`, scopes: ['a'] })
    line({ created: c.keyId, token: c.token })
    mine.push(c.keyId)
    if (i % 3 === 2) {
      const old = mine.shift() as string
      const r = await store.rotate(old, { graceMs: 86_400_000 })
      line({ rotated: old, created: r.keyId, token: r.token })
      mine.push(r.keyId)
    }
    if (i % 5 === 4) line({ reencrypted: (await store.rotateMasterKey()).reencrypted })
  }
}
