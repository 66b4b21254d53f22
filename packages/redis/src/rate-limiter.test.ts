import type { KeyRecord } from '@sigil/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, deletePrefix, uniquePrefix } from '../../../test/redis/helpers.js'
import { createRedisRateLimiter } from './rate-limiter.js'

let redis: Redis
const prefix = uniquePrefix('rl')
const key = (keyId: string, over: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId,
  secret: new Uint8Array(32),
  principal: 'acme',
  scopes: [],
  status: 'active',
  createdAt: new Date(0),
  ...over,
})

beforeAll(async () => {
  redis = await connectShared()
})
afterAll(async () => {
  await deletePrefix(redis, prefix)
  redis.disconnect()
})

describe('createRedisRateLimiter', () => {
  it('allows N per window, then says RATE_LIMITED with a reset', async () => {
    const rl = createRedisRateLimiter(redis, { rate: { points: 3, windowMs: 10_000 } }, { prefix })
    const k = key('keyAAAA1')
    const d = []
    for (let i = 0; i < 4; i++) d.push(await rl.consume(k))
    expect(d.map((x) => x.allowed)).toEqual([true, true, true, false])
    expect(d[2]?.remaining).toBe(0)
    expect(d[3]).toMatchObject({ code: 'RATE_LIMITED', limit: 3, windowMs: 10_000 })
    expect(d[3]?.resetMs).toBeGreaterThan(0)
    expect(await redis.exists(`{${prefix}:keyAAAA1}:rate:3:10`)).toBe(1)
  })

  it('takes limits from the key record over the policy, and applies the quota', async () => {
    const rl = createRedisRateLimiter(redis, { rate: { points: 100, windowMs: 1000 } }, { prefix })
    const k = key('keyBBBB1', { rateLimits: { quota: { points: 2, periodMs: 86_400_000 } } })
    const out = []
    for (let i = 0; i < 3; i++) out.push(await rl.consume(k))
    expect(out.map((x) => x.allowed)).toEqual([true, true, false])
    expect(out[2]?.code).toBe('QUOTA_EXCEEDED')
  })

  it('charges per principal when the policy says so', async () => {
    const rl = createRedisRateLimiter(redis, () => ({ rate: { points: 2, windowMs: 10_000 }, perPrincipal: true }), { prefix })
    const a = await rl.consume(key('keyCCCC1', { principal: 'tenant-9' }))
    const b = await rl.consume(key('keyCCCC2', { principal: 'tenant-9' }))
    const c = await rl.consume(key('keyCCCC3', { principal: 'tenant-9' }))
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false])
    expect(await redis.exists(`{${prefix}:principal:tenant-9}:rate:2:10`)).toBe(1)
  })

  it('throws (never allows) while Redis is down', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
    down.on('error', () => {})
    const rl = createRedisRateLimiter(down, { rate: { points: 1000, windowMs: 1000 } }, { prefix })
    await expect(rl.consume(key('keyDDDD1'))).rejects.toThrow()
    down.disconnect()
  })

  it('refuses insurance and in-memory blocking options', () => {
    const unsafe = { prefix, insuranceLimiter: {} } as unknown as { prefix: string }
    expect(() => createRedisRateLimiter(redis, {}, unsafe)).toThrow(/insuranceLimiter/)
  })
})
