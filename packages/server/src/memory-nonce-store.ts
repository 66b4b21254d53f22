import type { NonceStore } from '@sigil/core'
import { randomBytes, SigilError } from '@sigil/core'

/** Options of {@link createMemoryNonceStore}. */
export interface MemoryNonceStoreOptions {
  /** Hard cap on remembered pairs. When full the store fails closed (503), never forgets early. */
  maxEntries?: number
  /** Clock in milliseconds. */
  now?: () => number
}

// Expiries are kept as small integers (ms after `base`) so V8 stores them unboxed; past this
// offset every expiry is shifted down once (O(n), about every 12 days of uptime).
const REBASE_AFTER_MS = 2 ** 30

/**
 * A 96-bit digest of (keyId, nonce) as a 6-character string: three independently seeded 32-bit
 * multiply–rotate lanes over the UTF-16 units, with the key id's length mixed in first so
 * (`a`, `b:c`) and (`a:b`, `c`) differ. A collision can only make the store report a fresh pair
 * as seen (a false rejection, about n / 2^96 per request: ~1e-23 at a million entries); it can
 * never make a replay look new, since equal pairs always hash equal.
 */
function createPairHash(): (keyId: string, nonce: string) => string {
  const seed = new Uint32Array(randomBytes(12).buffer)
  const s0 = seed[0] as number
  const s1 = seed[1] as number
  const s2 = seed[2] as number
  return (keyId, nonce) => {
    let a = s0 ^ keyId.length
    let b = s1 ^ Math.imul(keyId.length, 0x9e3779b1)
    let c = s2 ^ Math.imul(keyId.length, 0x85ebca77)
    const text = keyId + nonce
    for (let i = 0; i < text.length; i++) {
      const u = text.charCodeAt(i)
      a = Math.imul(a ^ u, 0x01000193)
      a = (a << 13) | (a >>> 19)
      b = Math.imul(b ^ u, 0x5bd1e995)
      b = (b << 15) | (b >>> 17)
      c = Math.imul(c ^ u, 0xcc9e2d51)
      c = (c << 11) | (c >>> 21)
    }
    a = fmix(a ^ text.length)
    b = fmix(b ^ a)
    c = fmix(c ^ b)
    return String.fromCharCode(a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff)
  }
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * An in-process nonce store with TTL and bounded memory. Entries are kept in insertion order;
 * with the verifier's constant TTL that is also expiry order, so sweeping expired entries is
 * amortised O(1). Each entry is a 96-bit pair digest and an unboxed expiry (well under 100 bytes
 * per entry at a million entries; `pnpm bench` measures it). Single process only: use
 * `@sigil/redis` when several servers share traffic.
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
  const pairKey = createPairHash()
  // pair digest -> expiry in ms after `base`. A Map iterates in insertion order.
  const entries = new Map<string, number>()
  let base = now()
  const sweep = (rel: number) => {
    for (const [k, exp] of entries) {
      if (exp > rel) break
      entries.delete(k)
    }
  }
  const rebase = (t: number) => {
    const shift = Math.floor(t - base)
    for (const [k, exp] of entries) entries.set(k, exp - shift)
    base += shift
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
      if (t - base > REBASE_AFTER_MS) rebase(t)
      const rel = t - base
      const k = pairKey(keyId, nonce)
      const exp = entries.get(k)
      if (exp !== undefined && exp > rel) return false
      sweep(rel)
      if (entries.size >= max) throw new SigilError('STORE_UNAVAILABLE', 'nonce store is full')
      if (exp !== undefined) entries.delete(k)
      // Rounded up: a pair is never forgotten before its TTL.
      entries.set(k, Math.ceil(rel + ttlMs))
      return true
    },
  }
}
