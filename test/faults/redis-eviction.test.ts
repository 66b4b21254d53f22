import { once } from 'node:events'
import { signRequest } from '@sigil/client'
import { ConfigurationError, type KeyRecord, VerificationError } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { createRedisNonceStore, createRedisRateLimiter, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { createVerifier, type Verifier, verify } from '@sigil/server'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PrivateRedis, privateRedis, uniquePrefix } from '../redis/helpers.js'

// Issue 23 item 3: with maxmemory and another application's cache filling Redis, volatile-*
// evicts exactly the nonces (they have a TTL, the epoch has none) and allkeys-* evicts nonces,
// counters and the epoch. Only noeviction (or maxmemory 0) is replay-safe; every other policy is
// refused: each call fails closed (503) with a ConfigurationError cause for onError.
const PORT = 7020
const N = 300
const secret = randomBytes(32)
const key: KeyRecord = { keyId: 'evictKey0001', secret, principal: 'p', scopes: [], status: 'active', createdAt: new Date(0) }
const keys = { get: (id: string) => (id === key.keyId ? key : undefined) }

let server: PrivateRedis
let admin: Redis
beforeAll(async () => {
  server = privateRedis(PORT, ['--maxmemory', '20mb', '--maxmemory-policy', 'noeviction'])
  await server.start()
  admin = new Redis({ host: '127.0.0.1', port: PORT })
  await once(admin, 'ready')
})
afterAll(async () => {
  admin?.disconnect()
  await server?.kill()
})

async function outcome(verifier: Verifier, req: Request): Promise<string> {
  try {
    await verify(req.clone(), verifier)
    return 'accepted'
  } catch (e) {
    if (e instanceof VerificationError) return `${e.status} ${e.code}`
    throw e
  }
}
const tally = (xs: string[]) => Object.fromEntries([...new Set(xs)].map((s) => [s, xs.filter((x) => x === s).length]))
const signed = (i: number) => signRequest(new Request(`https://api.example.com/v1/orders?i=${i}`), { keyId: key.keyId, secret })

/** Another application's cache, with a TTL like the nonces: 30 MB in a 20 MB Redis. */
async function fillCache(tag: string) {
  const value = 'x'.repeat(10_000)
  for (let batch = 0; batch < 30; batch++) {
    const p = admin.pipeline()
    for (let i = 0; i < 100; i++) p.set(`othercache:${tag}:${batch}:${i}`, value, 'EX', 3600)
    await p.exec() // under noeviction the writes past 20 MB fail with OOM: that is the point
  }
}

async function run(policy: string) {
  await admin.flushall()
  await admin.config('SET', 'maxmemory-policy', policy)
  const client = new Redis({ host: '127.0.0.1', port: PORT, ...RECOMMENDED_REDIS_OPTIONS })
  client.on('error', () => {})
  await once(client, 'ready')
  const causes: unknown[] = []
  const prefix = uniquePrefix('evict')
  const verifier = createVerifier({
    keys,
    nonceStore: createRedisNonceStore(client, { prefix }),
    rateLimiter: createRedisRateLimiter(client, { quota: { points: 100_000, periodMs: 3_600_000 } }, { prefix }),
    onError: (e) => causes.push((e as Error).cause),
  })
  const requests = await Promise.all(Array.from({ length: N }, (_, i) => signed(i)))
  const first: string[] = []
  for (const r of requests) first.push(await outcome(verifier, r))
  await fillCache(policy)
  const again: string[] = []
  for (const r of requests) again.push(await outcome(verifier, r))
  const replayed = again.filter((x, i) => x === 'accepted' && first[i] === 'accepted').length
  const evicted = Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))?.[1])
  client.disconnect()
  console.log(
    `maxmemory 20mb, ${policy}: first ${JSON.stringify(tally(first))}, replayed ${replayed}/${N}, evicted_keys ${evicted}, after ${JSON.stringify(tally(again))}`,
  )
  return { first: tally(first), again: tally(again), replayed, causes }
}

describe('Redis maxmemory-policy', () => {
  it('noeviction is replay-safe: requests are accepted, and no replay once memory is full', async () => {
    const r = await run('noeviction')
    expect(r.first).toEqual({ accepted: N })
    expect(r.replayed).toBe(0)
    expect(r.again).toEqual({ '401 NONCE_REPLAYED': N })
    expect(r.causes).toEqual([])
  }, 30_000)

  for (const policy of ['volatile-lru', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu']) {
    it(`${policy} is refused: every request fails closed (503) with a cause naming the policy`, async () => {
      const r = await run(policy)
      expect(r.replayed).toBe(0)
      expect(r.first).toEqual({ '503 STORE_UNAVAILABLE': N })
      expect(r.causes.length).toBeGreaterThan(0)
      for (const c of r.causes) {
        expect(c).toBeInstanceOf(ConfigurationError)
        expect((c as Error).message).toContain(`maxmemory-policy ${policy}`)
        expect((c as Error).message).toContain('noeviction')
      }
    }, 30_000)
  }

  it('a Redis user that may not run INFO is refused: nothing can be checked', async () => {
    await admin.flushall()
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.call('ACL', 'SETUSER', 'noinfo', 'on', '>noinfo-pw', '~*', '&*', '+@all', '-info')
    const client = new Redis({ host: '127.0.0.1', port: PORT, username: 'noinfo', password: 'noinfo-pw', ...RECOMMENDED_REDIS_OPTIONS })
    client.on('error', () => {})
    await once(client, 'ready')
    const causes: unknown[] = []
    const verifier = createVerifier({
      keys,
      nonceStore: createRedisNonceStore(client, { prefix: uniquePrefix('evict') }),
      onError: (e) => causes.push((e as Error).cause),
    })
    expect(await outcome(verifier, await signed(N + 10))).toBe('503 STORE_UNAVAILABLE')
    expect(causes[0]).toBeInstanceOf(ConfigurationError)
    expect((causes[0] as Error).message).toContain('refuses INFO')
    client.disconnect()
    await admin.call('ACL', 'DELUSER', 'noinfo')
  }, 30_000)

  it('keys evicted between two readings (policy switched and back) count as a reset: no replay afterwards', async () => {
    await admin.flushall()
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    const client = new Redis({ host: '127.0.0.1', port: PORT, ...RECOMMENDED_REDIS_OPTIONS })
    client.on('error', () => {})
    await once(client, 'ready')
    const verifier = createVerifier({
      keys,
      nonceStore: createRedisNonceStore(client, { prefix: uniquePrefix('evict'), configCheckMs: 500 }),
    })
    const requests = await Promise.all(Array.from({ length: 100 }, (_, i) => signed(2 * N + i)))
    for (const r of requests) expect(await outcome(verifier, r)).toBe('accepted')
    // volatile-lru evicts the nonces (they have a TTL) and keeps the epoch (it has none).
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
    await fillCache('switch')
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await new Promise((r) => setTimeout(r, 2_500)) // a few readings: the evictions are seen
    const again = await Promise.all(requests.map((r) => outcome(verifier, r)))
    console.log(`evictions between readings: replays ${JSON.stringify(tally(again))}`)
    expect(again.filter((x) => x === 'accepted').length).toBe(0)
    client.disconnect()
  }, 30_000)

  it('a policy changed at runtime is seen within configCheckMs, and the store fails closed', async () => {
    await admin.flushall()
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    const client = new Redis({ host: '127.0.0.1', port: PORT, ...RECOMMENDED_REDIS_OPTIONS })
    client.on('error', () => {})
    await once(client, 'ready')
    const verifier = createVerifier({
      keys,
      nonceStore: createRedisNonceStore(client, { prefix: uniquePrefix('evict'), configCheckMs: 200 }),
    })
    expect(await outcome(verifier, await signed(N))).toBe('accepted')
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
    // Refused from the next reading (every 200 ms here; polled, the machine may be slow).
    const until = async (want: string, i: number) => {
      const end = Date.now() + 5_000
      let got = ''
      while (got !== want && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100))
        got = await outcome(verifier, await signed(i))
      }
      return got
    }
    expect(await until('503 STORE_UNAVAILABLE', N + 1)).toBe('503 STORE_UNAVAILABLE')
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    expect(await until('accepted', N + 2)).toBe('accepted')
    client.disconnect()
  }, 30_000)
})
