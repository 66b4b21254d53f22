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
    u.record({ keyId: 'keyUse01', outcome: 'NONCE_REPLAYED', keyFound: true, at: at('2025-03-01T12:30:00Z'), address: '10.6.6.6' })
    u.record({ keyId: 'keyUse01', outcome: 'RATE_LIMITED', keyFound: true, at: at('2025-03-02T00:00:01Z') })
    u.record({ keyId: 'keyUse01', outcome: 'RATE_LIMITED', keyFound: true, at: at('2025-03-02T00:00:02Z') })
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

  it('counts key ids the store did not know in one bucket per day, never under the id', async () => {
    const u = createRedisUsageRecorder(redis, { prefix })
    const day = '2025-03-06'
    u.record({ keyId: 'keyUnkn1', outcome: 'KEY_UNKNOWN', keyFound: false, at: at(`${day}T00:00:00Z`) })
    u.record({ keyId: 'keyUnkn2', outcome: 'SIGNATURE_INVALID', keyFound: false, at: at(`${day}T00:00:01Z`), address: '10.6.6.6' })
    // Rejected before the lookup: the id is whatever the client wrote.
    u.record({ keyId: 'keyUnkn3', outcome: 'CLOCK_SKEW', at: at(`${day}T00:00:02Z`) })
    u.record({ outcome: 'SIGNATURE_MISSING', at: at(`${day}T00:00:03Z`) })
    u.record({ keyId: 'keyKnown1', outcome: 'KEY_REVOKED', keyFound: true, at: at(`${day}T00:00:04Z`) })
    await u.close()
    for (const id of ['keyUnkn1', 'keyUnkn2', 'keyUnkn3']) expect(await redis.exists(`{${prefix}:${id}}:usage:${day}`)).toBe(0)
    const unknown = await u.getUnknownUsage({ from: day, to: day })
    expect(unknown.totals).toEqual({ accepted: 0, rejected: { KEY_UNKNOWN: 1, SIGNATURE_INVALID: 1, CLOCK_SKEW: 1, SIGNATURE_MISSING: 1 } })
    expect((await u.getUsage('keyKnown1', { from: day, to: day })).totals.rejected).toEqual({ KEY_REVOKED: 1 })
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
