import { randomBytes } from 'node:crypto'
import { signRequest } from '@sigil/client'
import { VerificationError } from '@sigil/core'
import { createCachedKeyStore, generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createMemoryNonceStore, type VerifyOptions, verify } from '@sigil/server'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../helpers/services.js'
import { type FreezeProxy, freezeProxy } from './freeze-proxy.js'

// The PostgreSQL key store behind a proxy that freezes its connections (no FIN, no RST), and with
// its backends terminated by the server. Goal (issue 11): serving again within 10 s of a working
// endpoint whatever state the pool was left in, and no request waiting past storeTimeoutMs.
// Everything lives in a private schema; only this file's own backends are terminated.
const base = new URL(TEST_DATABASE_URL)
const schema = `sigil_faults_${randomBytes(6).toString('hex')}`
const appName = `sigil-faults-${randomBytes(4).toString('hex')}`
const STORE_TIMEOUT_MS = 1_500
const RECOVERY_BOUND_MS = 10_000
const masterKey = generateMasterKey()
const admin = new pg.Pool({ connectionString: base.href, max: 2 })

let proxy: FreezeProxy
beforeAll(async () => {
  await admin.query('SELECT 1')
  proxy = await freezeProxy(Number(base.port || 5432))
})
afterAll(async () => {
  await proxy?.close()
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.end()
})

function viaProxy(): string {
  const u = new URL(base.href)
  u.hostname = '127.0.0.1'
  u.port = String(proxy.port)
  u.searchParams.set('application_name', appName)
  return u.href
}

async function openStore(table: string) {
  const store = await createPostgresKeyStore({ connectionString: viaProxy(), schema, table, masterKey, queryTimeoutMs: 1_000 })
  const key = await store.create({ principal: 'partner', scopes: [] })
  return { store, key }
}

async function outcome(options: VerifyOptions, key: { keyId: string; secret: Uint8Array }): Promise<{ result: string; ms: number }> {
  const req = await signRequest(new Request('https://api.example.com/v1/orders'), { keyId: key.keyId, secret: key.secret })
  const t = performance.now()
  try {
    await verify(req, options)
    return { result: 'accepted', ms: performance.now() - t }
  } catch (e) {
    if (e instanceof VerificationError) return { result: `${e.status} ${e.code}`, ms: performance.now() - t }
    throw e
  }
}

/** 16 requests in flight at a time until one is accepted; returns the time from `from` and what was answered. */
async function recovery(options: VerifyOptions, key: { keyId: string; secret: Uint8Array }, from: number) {
  const tally: Record<string, number> = {}
  let worst = 0
  let recoveredAt = Number.POSITIVE_INFINITY
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (recoveredAt === Number.POSITIVE_INFINITY && performance.now() - from < RECOVERY_BOUND_MS + 5_000) {
        const o = await outcome(options, key)
        tally[o.result] = (tally[o.result] ?? 0) + 1
        worst = Math.max(worst, o.ms)
        if (o.result === 'accepted') recoveredAt = Math.min(recoveredAt, performance.now())
        else await new Promise((r) => setTimeout(r, 50))
      }
    }),
  )
  return { ms: recoveredAt - from, tally, worst }
}

describe('PostgreSQL key store after a silent connection loss', () => {
  it('refills a pool whose every connection hung, within 10 s, answering 503 meanwhile', async () => {
    const { store, key } = await openStore('frozen')
    const options: VerifyOptions = { keys: store, nonceStore: createMemoryNonceStore(), storeTimeoutMs: STORE_TIMEOUT_MS }
    // Fill the pool: 16 lookups in flight, then freeze every open connection mid-flight.
    await Promise.all(Array.from({ length: 16 }, () => store.get(key.keyId)))
    const inFlight = Array.from({ length: 16 }, () => outcome(options, key))
    proxy.freeze()
    const frozenAt = performance.now()
    for (const o of await Promise.all(inFlight)) {
      expect(['accepted', '503 STORE_UNAVAILABLE']).toContain(o.result)
      expect(o.ms).toBeLessThan(STORE_TIMEOUT_MS + 1_000)
    }
    const r = await recovery(options, key, frozenAt)
    console.log(
      `postgres key store, frozen pool: recovered in ${r.ms.toFixed(0)} ms, ${JSON.stringify(r.tally)}, slowest ${r.worst.toFixed(0)} ms`,
    )
    expect(r.ms).toBeLessThan(RECOVERY_BOUND_MS)
    for (const k of Object.keys(r.tally)) expect(['accepted', '503 STORE_UNAVAILABLE']).toContain(k)
    expect(r.worst).toBeLessThan(STORE_TIMEOUT_MS + 1_000)
    await store.close()
  }, 40_000)

  it('behind the cached store, a lookup that hung is not shared for ever', async () => {
    const { store, key } = await openStore('cached')
    const keys = createCachedKeyStore(store, { ttlMs: 50 })
    const options: VerifyOptions = { keys, nonceStore: createMemoryNonceStore(), storeTimeoutMs: STORE_TIMEOUT_MS }
    expect((await outcome(options, key)).result).toBe('accepted')
    await new Promise((r) => setTimeout(r, 60)) // cache entry expired: the next lookup goes to PostgreSQL
    proxy.freeze()
    const r = await recovery(options, key, performance.now())
    console.log(`cached over postgres, frozen pool: recovered in ${r.ms.toFixed(0)} ms, ${JSON.stringify(r.tally)}`)
    expect(r.ms).toBeLessThan(RECOVERY_BOUND_MS)
    expect(r.worst).toBeLessThan(STORE_TIMEOUT_MS + 1_000)
    await store.close()
  }, 40_000)

  it('recovers when the server terminates its backends (pg_terminate_backend), idle or busy', async () => {
    const { store, key } = await openStore('terminated')
    const options: VerifyOptions = { keys: store, nonceStore: createMemoryNonceStore(), storeTimeoutMs: STORE_TIMEOUT_MS }
    await Promise.all(Array.from({ length: 8 }, () => store.get(key.keyId)))
    const busy = Array.from({ length: 8 }, () => outcome(options, key))
    const { rows } = await admin.query(
      'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t',
      [appName],
    )
    const terminatedAt = performance.now()
    expect((rows[0] as { n: number }).n).toBeGreaterThan(0)
    for (const o of await Promise.all(busy)) expect(['accepted', '503 STORE_UNAVAILABLE']).toContain(o.result)
    const r = await recovery(options, key, terminatedAt)
    console.log(`postgres key store, backends terminated: recovered in ${r.ms.toFixed(0)} ms, ${JSON.stringify(r.tally)}`)
    expect(r.ms).toBeLessThan(RECOVERY_BOUND_MS)
    await store.close()
  }, 40_000)
})
