import { signRequest } from '@sigil/client'
import type { KeyRecord, KeyResolver, SigilError } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import { verify } from './verify.js'

// A key cache (e.g. @sigil/keys' createCachedKeyStore) exposes `lookup`, which answers a hit
// synchronously; verify() uses it instead of `get` so a cached key costs no promise and no timer.
const secret = randomBytes(32)
const keyId = 'kLookupKey01'
const T0 = 1_735_689_600_000
const record: KeyRecord = { keyId, secret, principal: 'partner-a', scopes: [], status: 'active', createdAt: new Date(0) }
const signed = () =>
  signRequest(new Request('https://api.example.com/v1/orders', { method: 'POST', body: '{}' }), { keyId, secret, now: () => T0 })
const options = (keys: KeyResolver) => ({ keys, now: () => T0, nonceStore: createMemoryNonceStore({ now: () => T0 }) })

describe('verify() with a resolver that has lookup', () => {
  it('asks lookup, not get, and accepts a synchronous answer', async () => {
    const calls: string[] = []
    const keys: KeyResolver = {
      get: () => {
        calls.push('get')
        return undefined
      },
      lookup: (id) => {
        calls.push('lookup')
        return id === keyId ? record : undefined
      },
    }
    expect(await verify(await signed(), options(keys))).toMatchObject({ keyId, principal: 'partner-a' })
    expect(calls).toEqual(['lookup'])
  })

  it('awaits a lookup miss under storeTimeoutMs and fails closed when it hangs', async () => {
    const keys: KeyResolver = { get: () => record, lookup: () => new Promise<never>(() => {}) }
    const err = (await verify(await signed(), { ...options(keys), storeTimeoutMs: 20 }).catch((e: unknown) => e)) as SigilError
    expect(err.code).toBe('STORE_UNAVAILABLE')
    const ok: KeyResolver = { get: () => undefined, lookup: async () => record }
    expect(await verify(await signed(), options(ok))).toMatchObject({ keyId })
  })
})
