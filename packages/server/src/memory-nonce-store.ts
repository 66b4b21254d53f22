import type { NonceStore } from '@sigil/core'
import { SigilError } from '@sigil/core'

/** Options of {@link createMemoryNonceStore}. */
export interface MemoryNonceStoreOptions {
  /** Hard cap on remembered pairs. When full the store fails closed (503), never forgets early. */
  maxEntries?: number
  /** Clock in milliseconds. */
  now?: () => number
}

/**
 * An in-process nonce store with TTL and bounded memory. Entries are kept in insertion order;
 * with the verifier's constant TTL that is also expiry order, so sweeping expired entries is
 * amortised O(1). Single process only: use `@sigil/redis` when several servers share traffic.
 *
 * @example
 * ```ts
 * const nonceStore = createMemoryNonceStore({ maxEntries: 1_000_000 })
 * await verify(request, { keys, nonceStore })
 * ```
 */
export function createMemoryNonceStore(options: MemoryNonceStoreOptions = {}): NonceStore & { readonly size: number; clear(): void } {
  const max = options.maxEntries ?? 1_000_000
  const now = options.now ?? Date.now
  // key -> expiry (ms). A Map iterates in insertion order.
  const entries = new Map<string, number>()
  const sweep = (t: number) => {
    for (const [k, exp] of entries) {
      if (exp > t) break
      entries.delete(k)
    }
  }
  return {
    get size() {
      return entries.size
    },
    clear() {
      entries.clear()
    },
    checkAndSet(keyId, nonce, ttlMs) {
      const t = now()
      const k = `${keyId}\u0000${nonce}`
      const exp = entries.get(k)
      if (exp !== undefined && exp > t) return false
      sweep(t)
      if (entries.size >= max) throw new SigilError('STORE_UNAVAILABLE', 'nonce store is full')
      if (exp !== undefined) entries.delete(k)
      entries.set(k, t + ttlMs)
      return true
    },
  }
}
