import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, deletePrefix, uniquePrefix } from '../../../test/redis/helpers.js'
import { createRedisUsageRecorder } from './usage-recorder.js'
import { getUsage } from './usage-report.js'

let redis: Redis
const prefix = uniquePrefix('usage')
const at = (iso: string) => new Date(iso)

beforeAll(async () => {
  redis = await connectShared()
})
afterAll(async () => {
  await deletePrefix(redis, prefix)
  redis.disconnect()
})

describe('createRedisUsageRecorder', () => {
  it('counts accepted and rejected per key and UTC day, keeping the latest use', async () => {
    const u = createRedisUsageRecorder(redis, { prefix, flushIntervalMs: 60_000 })
    u.record({ keyId: 'keyUse01', outcome: 'accepted', at: at('2025-03-01T10:00:00Z'), address: '10.0.0.1' })
    u.record({ keyId: 'keyUse01', outcome: 'accepted', at: at('2025-03-01T12:00:00Z'), address: '10.0.0.2' })
    u.record({ keyId: 'keyUse01', outcome: 'accepted', at: at('2025-03-01T11:00:00Z'), address: '10.0.0.3' })
    u.record({ keyId: 'keyUse01', outcome: 'NONCE_REPLAYED', at: at('2025-03-01T12:30:00Z'), address: '10.6.6.6' })
    u.record({ keyId: 'keyUse01', outcome: 'RATE_LIMITED', at: at('2025-03-02T00:00:01Z') })
    u.record({ keyId: 'keyUse01', outcome: 'RATE_LIMITED', at: at('2025-03-02T00:00:02Z') })
    u.record({ keyId: 'keyOther', outcome: 'accepted', at: at('2025-03-01T10:00:00Z') })
    await u.close()
    const r = await u.getUsage('keyUse01', { from: '2025-02-28', to: '2025-03-03' })
    expect(r.days.map((d) => d.date)).toEqual(['2025-03-01', '2025-03-02'])
    expect(r.days[0]).toEqual({
      date: '2025-03-01',
      accepted: 3,
      rejected: { NONCE_REPLAYED: 1 },
      lastUsedAt: at('2025-03-01T12:00:00Z'),
      lastAddress: '10.0.0.2',
    })
    expect(r.days[1]).toEqual({ date: '2025-03-02', accepted: 0, rejected: { RATE_LIMITED: 2 } })
    expect(r.totals).toEqual({
      accepted: 3,
      rejected: { NONCE_REPLAYED: 1, RATE_LIMITED: 2 },
      lastUsedAt: at('2025-03-01T12:00:00Z'),
      lastAddress: '10.0.0.2',
    })
  })

  it('adds up across recorders (instances) and keeps the newest last use', async () => {
    const a = createRedisUsageRecorder(redis, { prefix })
    const b = createRedisUsageRecorder(redis, { prefix })
    a.record({ keyId: 'keyUse02', outcome: 'accepted', at: at('2025-03-05T09:00:00Z'), address: 'a' })
    b.record({ keyId: 'keyUse02', outcome: 'accepted', at: at('2025-03-05T08:00:00Z'), address: 'b' })
    await b.flush()
    await a.flush()
    b.record({ keyId: 'keyUse02', outcome: 'accepted', at: at('2025-03-05T07:00:00Z'), address: 'c' })
    await Promise.all([a.close(), b.close()])
    const r = await getUsage(redis, 'keyUse02', { from: '2025-03-05', to: '2025-03-05' }, { prefix })
    expect(r.totals).toMatchObject({ accepted: 3, lastAddress: 'a' })
    expect(await redis.ttl(`{${prefix}:keyUse02}:usage:2025-03-05`)).toBeGreaterThan(89 * 86_400)
  })

  it('skips unknown key ids and events without one', async () => {
    const u = createRedisUsageRecorder(redis, { prefix })
    u.record({ keyId: 'keyUnkn1', outcome: 'KEY_UNKNOWN', at: at('2025-03-06T00:00:00Z') })
    u.record({ outcome: 'SIGNATURE_MISSING', at: at('2025-03-06T00:00:00Z') })
    await u.close()
    expect(await redis.exists(`{${prefix}:keyUnkn1}:usage:2025-03-06`)).toBe(0)
  })

  it('never throws or waits on the request path while Redis is down, and keeps counts for later', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
    down.on('error', () => {})
    const u = createRedisUsageRecorder(down, { prefix, maxPending: 2 })
    const t0 = performance.now()
    for (let i = 0; i < 1000; i++) u.record({ keyId: `keyDown${i % 3}`, outcome: 'accepted', at: new Date() })
    expect(performance.now() - t0).toBeLessThan(200)
    await expect(u.flush()).resolves.toBeUndefined()
    expect(u.dropped).toBe(333) // third bucket did not fit; the other two are kept for the next flush
    await u.close()
    down.disconnect()
  })

  it('refuses ranges that are reversed or too long', async () => {
    await expect(getUsage(redis, 'k', { from: '2025-03-02', to: '2025-03-01' }, { prefix })).rejects.toThrow(/after/)
    await expect(getUsage(redis, 'k', { from: '2020-01-01', to: '2025-01-01' }, { prefix })).rejects.toThrow(/366/)
  })
})
