import type { KeyRecord, KeyResolver, SigilError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { CACHE_MISS, createCachedKeyStore } from './cached-key-store.js'
import { createMemoryKeyStore } from './memory-store.js'

const record = (keyId: string): KeyRecord => ({
  keyId,
  secret: new Uint8Array(32),
  principal: 'acme',
  scopes: [],
  status: 'active',
  createdAt: new Date(0),
})

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
  it("hands out the wrapped store's sessions, uncached (a sign-out is seen at once)", async () => {
    const store = createMemoryKeyStore()
    const cached = createCachedKeyStore(store)
    expect(cached.sessions).toBe(store.sessions)
    const token = 'a-session-token-of-32-characters'
    await store.sessions?.create(token, 'x', new Date(Date.now() + 60_000))
    expect((await cached.sessions?.read(token))?.data).toBe('x')
    await store.sessions?.revoke(token)
    expect(await cached.sessions?.read(token)).toBeUndefined()
  })

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
    const cache = createCachedKeyStore(resolver, { negativeTtlMs: 1000, now: () => t })
    expect(await cache.get('Unknown12345')).toBeUndefined()
    expect(await cache.get('Unknown12345')).toBeUndefined()
    expect(calls).toHaveLength(1)
    t += 1000
    await cache.get('Unknown12345')
    expect(calls).toHaveLength(2)
  })

  it('expires entries after ttlMs and never serves a key past its own deadline as active', async () => {
    let t = Date.parse('2030-01-01T00:00:00Z')
    const now = () => t
    const store = createMemoryKeyStore({ now })
    const { keyId } = await store.create({ principal: 'acme', expiresAt: new Date(t + 5_000) })
    const { calls, resolver } = counting(store)
    const cache = createCachedKeyStore(resolver, { ttlMs: 60_000, now })
    expect((await cache.get(keyId))?.status).toBe('active')
    t += 5_000
    expect((await cache.get(keyId))?.status).toBe('expired')
    expect(calls.length).toBeGreaterThanOrEqual(1)
  })

  it('keeps the keys that carry the traffic when one-off lookups overflow max (admission)', async () => {
    const calls: string[] = []
    const records = new Map<string, KeyRecord>()
    for (let i = 0; i < 1010; i++) records.set(`key${i}`, record(`key${i}`))
    const cache = createCachedKeyStore(
      {
        get: async (k: string) => {
          calls.push(k)
          return records.get(k)
        },
      },
      { max: 10 },
    )
    const hot = Array.from({ length: 10 }, (_, i) => `key${i}`)
    for (const k of hot) await cache.get(k)
    for (let i = 10; i < 1010; i++) {
      await cache.get(`key${i}`)
      for (const k of hot) expect(cache.getSync(k)).toBe(records.get(k))
    }
    expect(calls.filter((k) => hot.includes(k))).toEqual(hot)
    expect(cache.stats()).toMatchObject({ size: 10, rejected: 1000 })
  })

  it('admits a key loaded again and again once the table is full, evicting one not hit since', async () => {
    const calls: string[] = []
    const cache = createCachedKeyStore(
      {
        get: (k: string) => {
          calls.push(k)
          return record(k)
        },
      },
      { max: 2 },
    )
    await cache.get('aaaaaaaa')
    await cache.get('bbbbbbbb')
    await cache.get('aaaaaaaa') // a is hit, b is not
    await cache.get('cccccccc') // first sight: kept out
    expect(cache.getSync('cccccccc')).toBe(CACHE_MISS)
    await cache.get('cccccccc') // loaded twice: admitted in place of b
    expect(cache.getSync('cccccccc')).toMatchObject({ keyId: 'cccccccc' })
    expect(cache.getSync('aaaaaaaa')).toMatchObject({ keyId: 'aaaaaaaa' })
    expect(cache.getSync('bbbbbbbb')).toBe(CACHE_MISS)
    expect(calls).toEqual(['aaaaaaaa', 'bbbbbbbb', 'cccccccc', 'cccccccc'])
  })

  it('remembers unknown ids in a separate bounded table: a flood of them never evicts a real key', async () => {
    const calls: string[] = []
    const cache = createCachedKeyStore(
      {
        get: async (k: string) => {
          calls.push(k)
          return k === 'realkey1' ? record(k) : undefined
        },
      },
      { max: 1, negativeMax: 3 },
    )
    await cache.get('realkey1')
    for (let i = 0; i < 100; i++) expect(await cache.get(`forged${i}`)).toBeUndefined()
    expect(cache.stats()).toMatchObject({ size: 1, negativeSize: 3 })
    expect(cache.getSync('forged99')).toBeUndefined()
    expect(cache.getSync('forged0')).toBe(CACHE_MISS)
    expect(cache.getSync('realkey1')).toMatchObject({ keyId: 'realkey1' })
    expect(calls.filter((k) => k === 'realkey1')).toHaveLength(1)
  })

  it('answers a hit synchronously (getSync, lookup) and a miss with CACHE_MISS or a promise', async () => {
    const store = createMemoryKeyStore()
    const { keyId } = await store.create({ principal: 'acme' })
    const cache = createCachedKeyStore(counting(store).resolver)
    expect(cache.getSync(keyId)).toBe(CACHE_MISS)
    const miss = cache.lookup(keyId)
    expect(miss).toBeInstanceOf(Promise)
    const loaded = await miss
    const hit = cache.lookup(keyId)
    expect(hit).not.toBeInstanceOf(Promise)
    expect(hit).toBe(loaded)
    expect(cache.getSync(keyId)).toBe(loaded)
    await cache.get('Unknown12345')
    expect(cache.getSync('Unknown12345')).toBeUndefined()
    expect(cache.lookup('Unknown12345')).toBeUndefined()
  })

  it("loads through the store's own synchronous lookup: a miss answers without a promise, get is not called", async () => {
    const r = record('k1')
    const asked: string[] = []
    const store = {
      get: async (_keyId: string): Promise<KeyRecord | undefined> => {
        throw new Error('get must not be called when the store has lookup')
      },
      lookup: (keyId: string) => {
        asked.push(keyId)
        if (keyId === 'broken') throw new Error('disk I/O error')
        return keyId === 'k1' ? r : undefined
      },
    }
    const cache = createCachedKeyStore(store)
    expect(cache.lookup('k1')).toBe(r)
    expect(cache.lookup('k1')).toBe(r)
    expect(cache.lookup('nope')).toBeUndefined()
    expect(cache.lookup('nope')).toBeUndefined()
    expect(await cache.get('k1')).toBe(r)
    expect(asked).toEqual(['k1', 'nope'])
    // A store that throws still fails as a rejected promise, and nothing is cached.
    const failed = cache.lookup('broken')
    expect(failed).toBeInstanceOf(Promise)
    await expect(failed).rejects.toThrow('disk I/O error')
    await expect(cache.get('broken')).rejects.toThrow('disk I/O error')
    expect(asked.filter((k) => k === 'broken')).toHaveLength(2)
    expect(cache.stats()).toMatchObject({ loads: 4, size: 1, negativeSize: 1 })
  })

  it('stays exact under random gets, changes and invalidations with a tiny table (model check)', async () => {
    const store = createMemoryKeyStore()
    const cache = createCachedKeyStore(store, { max: 3, negativeMax: 2 })
    const ids: string[] = []
    for (let i = 0; i < 8; i++) ids.push((await store.create({ principal: `p${i}` })).keyId)
    ids.push('Unknown00001', 'Unknown00002', 'Unknown00003')
    let seed = 42
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return (seed >>> 8) % n
    }
    for (let step = 0; step < 2000; step++) {
      const k = ids[rnd(ids.length)] as string
      const op = rnd(20)
      if (op === 0 && !k.startsWith('Unknown')) await cache.setScopes(k, [`s${step}`])
      else if (op === 1 && !k.startsWith('Unknown')) await store.update(k, { metadata: { step } })
      else if (op === 2) cache.invalidate(k)
      else if (op === 3) cache.clear()
      else {
        const want = await store.get(k)
        const got = await cache.get(k)
        expect(got?.scopes, `step ${step}`).toEqual(want?.scopes)
        expect(got?.metadata).toEqual(want?.metadata)
      }
    }
    expect(cache.stats().size).toBeLessThanOrEqual(3)
  })

  it('bounds a hung store lookup: waiters fail with STORE_UNAVAILABLE, then the key serves again', async () => {
    const store = createMemoryKeyStore()
    const { keyId } = await store.create({ principal: 'acme' })
    let hang = true
    let calls = 0
    const cache = createCachedKeyStore(
      {
        get: (k: string) => {
          calls++
          return hang ? new Promise<never>(() => {}) : store.get(k)
        },
      },
      { loadTimeoutMs: 30 },
    )
    const waiters = Array.from({ length: 5 }, () =>
      cache.get(keyId).then(
        () => 'answered',
        (e: SigilError) => e.code,
      ),
    )
    expect(await Promise.all(waiters)).toEqual(Array(5).fill('STORE_UNAVAILABLE'))
    expect(calls).toBe(1)
    // Still down: a new lookup starts a new load (not the dead one) and fails the same way.
    await expect(cache.get(keyId)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
    expect(calls).toBe(2)
    hang = false
    expect((await cache.get(keyId))?.keyId).toBe(keyId)
    expect(calls).toBe(3)
    expect(cache.getSync(keyId)).toMatchObject({ keyId })
    expect(cache.stats()).toMatchObject({ timeouts: 2, loads: 3 })
  })

  it('still times out a hung lookup that was invalidated while it waited, and one per key among many', async () => {
    const answered = new Set(['fast0001', 'fast0002'])
    const cache = createCachedKeyStore(
      { get: (k: string) => (answered.has(k) ? Promise.resolve(record(k)) : new Promise<never>(() => {})) },
      { loadTimeoutMs: 25 },
    )
    const hung = cache.get('hung0001').then(
      () => 'answered',
      (e: SigilError) => e.code,
    )
    cache.invalidate('hung0001')
    const others = ['hung0002', 'fast0001', 'hung0003', 'fast0002'].map((k) =>
      cache.get(k).then(
        (r) => r?.keyId,
        (e: SigilError) => e.code,
      ),
    )
    expect(await hung).toBe('STORE_UNAVAILABLE')
    expect(await Promise.all(others)).toEqual(['STORE_UNAVAILABLE', 'fast0001', 'STORE_UNAVAILABLE', 'fast0002'])
    expect(cache.stats().timeouts).toBe(3)
  })

  it('does not cache an answer that arrives after its lookup timed out', async () => {
    const store = createMemoryKeyStore()
    const { keyId } = await store.create({ principal: 'acme' })
    let release: (() => void) | undefined
    let calls = 0
    const cache = createCachedKeyStore(
      {
        get: async (k: string) => {
          calls++
          if (calls === 1) await new Promise<void>((r) => (release = r))
          return store.get(k)
        },
      },
      { loadTimeoutMs: 20 },
    )
    await expect(cache.get(keyId)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
    await store.revoke(keyId)
    release?.()
    await new Promise((r) => setTimeout(r, 10))
    expect(cache.getSync(keyId)).toBe(CACHE_MISS)
    expect((await cache.get(keyId))?.status).toBe('revoked')
  })

  it('does not cache errors (not even as "unknown") and shares them with every waiter', async () => {
    let fail = true
    const cache = createCachedKeyStore({
      get: async (keyId: string) => {
        if (fail) throw new Error('db down')
        return record(keyId)
      },
    })
    await expect(Promise.all([cache.get('aaaaaaaa'), cache.get('aaaaaaaa')])).rejects.toThrow('db down')
    expect(cache.getSync('aaaaaaaa')).toBe(CACHE_MISS)
    expect(cache.stats()).toMatchObject({ negativeSize: 0, size: 0 })
    fail = false
    expect(await cache.get('aaaaaaaa')).toMatchObject({ keyId: 'aaaaaaaa' })
  })

  it('drops a key changed through any pass-through admin method (update)', async () => {
    const cache = createCachedKeyStore(createMemoryKeyStore(), { ttlMs: 60_000 })
    const { keyId } = await cache.create({ principal: 'acme', scopes: ['a'] })
    expect((await cache.get(keyId))?.scopes).toEqual(['a'])
    await cache.update(keyId, { addScopes: ['b'] })
    expect((await cache.get(keyId))?.scopes).toEqual(['a', 'b'])
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
    expect(() => createCachedKeyStore(createMemoryKeyStore(), { loadTimeoutMs: 0 })).toThrow(/invalid cache options/)
  })
})
