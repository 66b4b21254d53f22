import { describeNonceStore } from '@sigil/server/testing'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, deletePrefix, uniquePrefix } from '../../../test/redis/helpers.js'
import { createRedisNonceStore } from './nonce-store.js'

let redis: Redis
const prefix = uniquePrefix('nonce')

beforeAll(async () => {
  redis = await connectShared()
})
afterAll(async () => {
  await deletePrefix(redis, prefix)
  redis.disconnect()
})

describeNonceStore('redis', () => createRedisNonceStore(redis, { prefix }))

describe('createRedisNonceStore', () => {
  it('stores the pair under the hash-tagged key with the TTL asked for', async () => {
    const store = createRedisNonceStore(redis, { prefix })
    expect(await store.checkAndSet('AbCd1234', 'n-1', 600_000)).toBe(true)
    const key = `{${prefix}:AbCd1234}:nonce:n-1`
    const ttl = await redis.pttl(key)
    expect(ttl).toBeGreaterThan(590_000)
    expect(ttl).toBeLessThanOrEqual(600_000)
  })

  it('keeps key ids with braces or colons from escaping the hash tag', async () => {
    const store = createRedisNonceStore(redis, { prefix })
    expect(await store.checkAndSet('a}b', 'x', 60_000)).toBe(true)
    expect(await store.checkAndSet('a', 'b}x', 60_000)).toBe(true)
    expect(await redis.exists(`{${prefix}:a%7Db}:nonce:x`)).toBe(1)
  })

  it('rejects (so the verifier answers 503) when Redis is unreachable', async () => {
    const { Redis } = await import('ioredis')
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
    down.on('error', () => {})
    const store = createRedisNonceStore(down, { prefix })
    await expect(store.checkAndSet('k', 'n', 1000)).rejects.toThrow()
    down.disconnect()
  })

  it('refuses a prefix that would break the hash tag', () => {
    expect(() => createRedisNonceStore(redis, { prefix: 'a{b' })).toThrow(/prefix/)
  })
})
