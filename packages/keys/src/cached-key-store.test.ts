import type { KeyRecord, KeyResolver } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { createCachedKeyStore } from './cached-key-store.js'
import { createMemoryKeyStore } from './memory-store.js'

function counting(store: KeyResolver) {
  const calls: string[] = []
  return {
    calls,
    resolver: {
      get: async (keyId: string) => {
        calls.push(keyId)
        await new Promise((r) => setTimeout(r, 5))
        return store.get(keyId)
      },
    } satisfies KeyResolver,
  }
}

describe('createCachedKeyStore', () => {
  it('makes one store query for a burst of concurrent lookups (single-flight)', async () => {
    const store = createMemoryKeyStore()
    const { keyId } = await store.create({ principal: 'acme' })
    const { calls, resolver } = counting(store)
    const cache = createCachedKeyStore(resolver)
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.get(keyId)))
    expect(calls).toEqual([keyId])
    expect(new Set(results.map((r) => r?.keyId))).toEqual(new Set([keyId]))
    await cache.get(keyId)
    expect(calls).toHaveLength(1)
    expect(cache.stats()).toMatchObject({ loads: 1, hits: 1 })
  })

  it('sees a revocation made through it on the very next lookup', async () => {
    const cache = createCachedKeyStore(createMemoryKeyStore(), { ttlMs: 60_000 })
    const { keyId } = await cache.create({ principal: 'acme' })
    expect((await cache.get(keyId))?.status).toBe('active')
    await cache.revoke(keyId)
    expect((await cache.get(keyId))?.status).toBe('revoked')
  })

  it('sees a rotation and revocation made on the wrapped store directly (onChange)', async () => {
    const store = createMemoryKeyStore()
    const cache = createCachedKeyStore(store, { ttlMs: 60_000 })
    const { keyId } = await store.create({ principal: 'acme' })
    await cache.get(keyId)
    const r = await store.rotate(keyId, { graceMs: 0 })
    expect((await cache.get(keyId))?.status).toBe('expired')
    expect((await cache.get(r.keyId))?.status).toBe('active')
    await store.revoke(r.keyId)
    expect((await cache.get(r.keyId))?.status).toBe('revoked')
  })

  it('does not cache a lookup that was in flight when its key was invalidated', async () => {
    const store = createMemoryKeyStore()
    const { keyId } = await store.create({ principal: 'acme' })
    const { calls, resolver } = counting(store)
    const cache = createCachedKeyStore(resolver, { ttlMs: 60_000 })
    const pending = cache.get(keyId)
    await store.revoke(keyId)
    cache.invalidate(keyId)
    await pending
    expect((await cache.get(keyId))?.status).toBe('revoked')
    expect(calls).toHaveLength(2)
  })

  it('caches unknown keys briefly, then asks again', async () => {
    let t = 0
    const store = createMemoryKeyStore()
    const { calls, resolver } = counting(store)
    const cache = createCachedKeyStore(resolver, { negativeTtlMs: 1000, now: () => new Date(t) })
    expect(await cache.get('Unknown12345')).toBeUndefined()
    expect(await cache.get('Unknown12345')).toBeUndefined()
    expect(calls).toHaveLength(1)
    t += 1000
    await cache.get('Unknown12345')
    expect(calls).toHaveLength(2)
  })

  it('expires entries after ttlMs and never serves a key past its own deadline as active', async () => {
    let t = Date.parse('2030-01-01T00:00:00Z')
    const now = () => new Date(t)
    const store = createMemoryKeyStore({ now })
    const { keyId } = await store.create({ principal: 'acme', expiresAt: new Date(t + 5_000) })
    const { calls, resolver } = counting(store)
    const cache = createCachedKeyStore(resolver, { ttlMs: 60_000, now })
    expect((await cache.get(keyId))?.status).toBe('active')
    t += 5_000
    expect((await cache.get(keyId))?.status).toBe('expired')
    expect(calls.length).toBeGreaterThanOrEqual(1)
  })

  it('evicts the least recently used entry beyond max', async () => {
    const records = new Map<string, KeyRecord>()
    const calls: string[] = []
    const cache = createCachedKeyStore(
      {
        get: (k: string) => {
          calls.push(k)
          return records.get(k)
        },
      },
      { max: 2 },
    )
    await cache.get('aaaaaaaa')
    await cache.get('bbbbbbbb')
    await cache.get('aaaaaaaa')
    await cache.get('cccccccc')
    await cache.get('aaaaaaaa')
    await cache.get('bbbbbbbb')
    expect(calls).toEqual(['aaaaaaaa', 'bbbbbbbb', 'cccccccc', 'bbbbbbbb'])
  })

  it('does not cache errors and shares them with every waiter', async () => {
    let fail = true
    const cache = createCachedKeyStore({
      get: async (_keyId: string) => {
        if (fail) throw new Error('db down')
        return undefined
      },
    })
    await expect(Promise.all([cache.get('aaaaaaaa'), cache.get('aaaaaaaa')])).rejects.toThrow('db down')
    fail = false
    expect(await cache.get('aaaaaaaa')).toBeUndefined()
  })

  it('passes change events through onChange for fan-out', async () => {
    const cache = createCachedKeyStore(createMemoryKeyStore())
    const seen: string[] = []
    cache.onChange((e) => seen.push(`${e.type}:${e.keyId}`))
    const { keyId } = await cache.create({ principal: 'acme' })
    await cache.revoke(keyId)
    expect(seen).toEqual([`created:${keyId}`, `revoked:${keyId}`])
  })

  it('validates options once', () => {
    expect(() => createCachedKeyStore(createMemoryKeyStore(), { max: 0 })).toThrow(/invalid cache options/)
  })
})
