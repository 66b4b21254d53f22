import type { NonceStore } from '@sigil/core'
import { describe, expect, it } from 'vitest'

/**
 * Register the nonce-store conformance suite (vitest `describe`/`it`) for one implementation:
 * every store (memory, Redis, yours) must pass it. Same call shape as `describeKeyStore` from
 * `@sigil/keys/testing`.
 *
 * @example
 * ```ts
 * import { describeNonceStore } from '@sigil/server/testing'
 * describeNonceStore('memory', () => createMemoryNonceStore())
 * ```
 */
export function describeNonceStore(name: string, factory: () => NonceStore | Promise<NonceStore>): void {
  describe(`NonceStore conformance: ${name}`, () => {
    const unique = () => `n${Math.random().toString(36).slice(2)}${Date.now()}`
    it('accepts a new pair once, then reports it as seen', async () => {
      const s = await factory()
      const n = unique()
      expect(await s.checkAndSet('k1', n, 60_000)).toBe(true)
      expect(await s.checkAndSet('k1', n, 60_000)).toBe(false)
    })
    it('scopes nonces by key id', async () => {
      const s = await factory()
      const n = unique()
      expect(await s.checkAndSet('k1', n, 60_000)).toBe(true)
      expect(await s.checkAndSet('k2', n, 60_000)).toBe(true)
    })
    it('forgets a pair after its TTL', async () => {
      const s = await factory()
      const n = unique()
      expect(await s.checkAndSet('k1', n, 50)).toBe(true)
      await new Promise((r) => setTimeout(r, 120))
      expect(await s.checkAndSet('k1', n, 50)).toBe(true)
    })
    it('is atomic: of 50 concurrent claims of one pair exactly one wins', async () => {
      const s = await factory()
      const n = unique()
      const results = await Promise.all(Array.from({ length: 50 }, () => s.checkAndSet('k1', n, 60_000)))
      expect(results.filter(Boolean)).toHaveLength(1)
    })
    it('keeps nonces that differ only in separators apart', async () => {
      const s = await factory()
      const n = unique()
      expect(await s.checkAndSet('a', `b:${n}`, 60_000)).toBe(true)
      expect(await s.checkAndSet('a:b', n, 60_000)).toBe(true)
    })
  })
}
