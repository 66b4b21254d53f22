import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, uniquePrefix } from '../../../test/redis/helpers.js'
import { connectKeyCache, type InvalidatableCache } from './key-change-fanout.js'
import { type KeyChangeMessage, publishKeyChange } from './publish-key-change.js'

let redis: Redis
const prefix = uniquePrefix('fanout')

beforeAll(async () => {
  redis = await connectShared()
})
afterAll(() => {
  redis.disconnect()
})

function fakeCache() {
  const listeners: ((e: KeyChangeMessage) => void)[] = []
  const log: string[] = []
  const cache: InvalidatableCache & { change(e: KeyChangeMessage): void } = {
    invalidate: (k) => log.push(`invalidate:${k}`),
    clear: () => log.push('clear'),
    onChange: (l) => {
      listeners.push(l)
      return () => listeners.splice(listeners.indexOf(l), 1)
    },
    change: (e) => {
      for (const l of listeners) l(e)
    },
  }
  return { cache, log }
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('connectKeyCache', () => {
  it('carries a local change to every other instance, rotations included', async () => {
    const a = fakeCache()
    const b = fakeCache()
    const fa = connectKeyCache(a.cache, redis, { prefix })
    const fb = connectKeyCache(b.cache, redis, { prefix })
    await Promise.all([fa.ready, fb.ready])
    expect(fb.subscribed).toBe(true)
    b.log.length = 0
    a.cache.change({ type: 'rotated', keyId: 'oldKey01', replacedBy: 'newKey01' })
    await until(() => b.log.includes('invalidate:newKey01'))
    expect(b.log).toContain('invalidate:oldKey01')
    await Promise.all([fa.close(), fb.close()])
  })

  it('hears changes published from outside any server (CLI, admin job)', async () => {
    const a = fakeCache()
    const fa = connectKeyCache(a.cache, redis, { prefix })
    await fa.ready
    await publishKeyChange(redis, { type: 'revoked', keyId: 'cliKey01' }, { prefix })
    await until(() => a.log.includes('invalidate:cliKey01'))
    await fa.close()
  })

  it('ignores other prefixes and clears on an unreadable message', async () => {
    const a = fakeCache()
    const fa = connectKeyCache(a.cache, redis, { prefix })
    await fa.ready
    a.log.length = 0
    await publishKeyChange(redis, { type: 'revoked', keyId: 'elsewhere' }, { prefix: `${prefix}x` })
    await redis.publish(`${prefix}:keys:changed`, 'not json')
    await until(() => a.log.includes('clear'))
    expect(a.log).not.toContain('invalidate:elsewhere')
    await fa.close()
  })

  it('stays subscribed while its canaries come back', async () => {
    const a = fakeCache()
    const fa = connectKeyCache(a.cache, redis, { prefix, heartbeatMs: 40 })
    await fa.ready
    a.log.length = 0
    await new Promise((r) => setTimeout(r, 300))
    expect(fa.subscribed).toBe(true)
    expect(a.log).toEqual([])
    await fa.close()
  })

  it('treats a subscription moved under it (a Cluster client re-selecting its subscriber node) as lost: the cache is cleared', async () => {
    const a = fakeCache()
    const sub = redis.duplicate()
    // ioredis' Cluster keeps its subscriber connection in `subscriber.getInstance()` and replaces
    // it without an event on the Cluster: emulate that on a single connection.
    let inner = { stream: {} }
    ;(sub as unknown as { subscriber: unknown }).subscriber = { getInstance: () => inner }
    const fa = connectKeyCache(a.cache, redis, { prefix, subscriber: sub, heartbeatMs: 50 })
    await fa.ready
    a.log.length = 0
    await new Promise((r) => setTimeout(r, 200))
    expect(a.log).toEqual([]) // canaries come back: nothing to drop
    inner = { stream: {} }
    await until(() => a.log.includes('clear'), 1_000)
    expect(fa.subscribed).toBe(true)
    await fa.close()
    sub.disconnect()
  })

  it('falls back to dropping the cache every fallbackTtlMs while it cannot subscribe', async () => {
    const a = fakeCache()
    const dead = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => 200 })
    dead.on('error', () => {})
    const fa = connectKeyCache(a.cache, redis, { prefix, subscriber: dead, fallbackTtlMs: 50 })
    await new Promise((r) => setTimeout(r, 280))
    expect(fa.subscribed).toBe(false)
    expect(a.log.filter((l) => l === 'clear').length).toBeGreaterThanOrEqual(4)
    await fa.close()
    dead.disconnect()
  })
})
