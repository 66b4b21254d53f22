import { signRequest } from '@sigil/client'
import { randomBytes } from '@sigil/core/internal'
import { createRedisNonceStore, createRedisRateLimiter, createRedisUsageRecorder } from '@sigil/redis'
import { createVerifier, VerificationError, verify } from '@sigil/server'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, deletePrefix, uniquePrefix } from '../redis/helpers.js'

// 200 requests with made-up key ids, as anyone on the Internet can send, must not leave 200
// (or 400) keys behind in Redis: usage of unknown ids goes to one bucket per day.
let redis: Redis
const prefixes: string[] = []
beforeAll(async () => {
  redis = await connectShared()
})
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p)
  redis.disconnect()
})

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = []
  for (const pattern of [`{${prefix}:*`, `{${prefix}}*`, `${prefix}:*`]) {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      out.push(...keys)
    } while (cursor !== '0')
  }
  return out
}

const forged = (i: number, createdS: number) =>
  signRequest(new Request(`https://api.example.com/v1/orders?i=${i}`), {
    keyId: `forged${randomBytes(8).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '')}`,
    secret: randomBytes(32),
    now: () => createdS * 1000,
  })

describe.each([false, true])('forged key ids (opaque %s)', (opaque) => {
  it('200 requests with random key ids create one Redis key, not 200', async () => {
    const prefix = uniquePrefix('forged')
    prefixes.push(prefix)
    const keys = { get: (_id: string) => undefined }
    const usage = createRedisUsageRecorder(redis, { prefix, flushIntervalMs: 60_000 })
    const verifier = createVerifier({
      keys,
      opaque,
      nonceStore: createRedisNonceStore(redis, { prefix }),
      rateLimiter: createRedisRateLimiter(redis, { rate: { points: 1_000, windowMs: 60_000 } }, { prefix }),
      usage,
    })
    const codes = new Map<string, number>()
    const nowS = Math.floor(Date.now() / 1000)
    for (let i = 0; i < 200; i++) {
      // Half with created=0 (rejected before the key lookup), half current (rejected at the key or MAC).
      const req = await forged(i, i % 2 ? 0 : nowS)
      const code = await verify(req, verifier).then(
        () => 'accepted',
        (e: unknown) => (e instanceof VerificationError ? e.code : 'thrown'),
      )
      codes.set(code, (codes.get(code) ?? 0) + 1)
    }
    expect(codes.get('accepted')).toBeUndefined()
    expect(codes.get('CLOCK_SKEW')).toBe(100)
    await usage.flush()
    const created = await keysUnder(prefix)
    console.log(`forged key ids (opaque ${opaque}): ${[...codes]} → Redis keys under the prefix: ${created.join(', ')}`)
    // The nonce store's one epoch key exists whatever the traffic; besides it, one usage bucket.
    expect(created.sort()).toEqual([`{${prefix}}:nonce-epoch`, `{${prefix}}:usage:_unknown:${new Date().toISOString().slice(0, 10)}`])
    const report = await usage.getUnknownUsage()
    expect(report.totals.accepted).toBe(0)
    expect(Object.values(report.totals.rejected).reduce((a, b) => a + b, 0)).toBe(200)
    await usage.close()
  })
})
