// `pnpm bench:master-key --keys=100000`: time to
// re-encrypt N keys on PostgreSQL (issue 25 item 5), in a private schema dropped afterwards.
// Rows are seeded in bulk (sealed and MACed as the store writes them), then `rotateMasterKey`
// runs under SIGIL_MASTER_KEY="v2,v1". `--batch-size=N` sets the rotation's batch.
import { randomBytes } from 'node:crypto'
import { createKeyId, generateMasterKey, parseMasterKey, recordMac, sealSecret } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import pg from 'pg'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const args = process.argv.slice(2)
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const n = Number(value('keys') ?? 100_000)
const batchSize = value('batch-size') ? Number(value('batch-size')) : undefined
const schema = value('schema') ?? `h_move_bench_${randomBytes(4).toString('hex')}`
const v1 = generateMasterKey('v1')
const v2 = generateMasterKey('v2')
const ring1 = parseMasterKey(v1)
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 })

async function seed(): Promise<void> {
  await (await createPostgresKeyStore({ connectionString: TEST_DATABASE_URL, schema, masterKey: v1 })).close()
  const at = new Date()
  for (let i = 0; i < n; i += 5000) {
    const rows = Array.from({ length: Math.min(5000, n - i) }, () => {
      const keyId = createKeyId()
      const sealed = sealSecret(ring1, keyId, randomBytes(32))
      const row = { keyId, principal: `p${i % 100}`, scopes: ['orders:read'], status: 'active' as const, createdAt: at, sealed }
      return { ...row, mac: recordMac(ring1, row) }
    })
    await admin.query(
      `INSERT INTO "${schema}".sigil_keys (key_id, principal, scopes, status, created_at, updated_at, secret_ciphertext, master_key_version, record_mac)
       SELECT k, p, '["orders:read"]'::jsonb, 'active', $4, $4, decode(c, 'hex'), 'v1', decode(m, 'hex') FROM unnest($1::text[], $2::text[], $3::text[], $5::text[]) AS v(k, p, c, m)`,
      [
        rows.map((r) => r.keyId),
        rows.map((r) => r.principal),
        rows.map((r) => Buffer.from(r.sealed.data).toString('hex')),
        at,
        rows.map((r) => Buffer.from(r.mac).toString('hex')),
      ],
    )
  }
}

try {
  await seed()
  const store = await createPostgresKeyStore({
    connectionString: TEST_DATABASE_URL,
    schema,
    masterKey: `${v2},${v1}`,
    queryTimeoutMs: 60_000,
  })
  const t0 = performance.now()
  const r = await store.rotateMasterKey(batchSize ? { batchSize } : {})
  const ms = performance.now() - t0
  await store.close()
  console.log(
    JSON.stringify({
      keys: n,
      batchSize: batchSize ?? 500,
      reencrypted: r.reencrypted,
      failed: r.failed.length,
      seconds: +(ms / 1000).toFixed(2),
    }),
  )
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.end()
}
