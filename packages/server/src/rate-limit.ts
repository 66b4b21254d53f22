import type { KeyRecord } from '@sigil/core'
import { createMemoryWindow } from './internal/memory-window.js'
import { createRateLimiterWith, type RateLimiter, type RateLimitPolicy } from './internal/rate-limiter.js'

// The `@sigil/server/rate-limit` entry (kept as its own subpath, so existing imports work).
export { createRateLimiterWith, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from './internal/rate-limiter.js'

/**
 * In-process rate limits and quotas: a fixed window per key (or principal) in this process's memory.
 *
 * @example
 * ```ts
 * import { createMemoryRateLimiter } from '@sigil/server/rate-limit'
 * const rateLimiter = createMemoryRateLimiter({ rate: { points: 100, windowMs: 1000 } })
 * ```
 */
export function createMemoryRateLimiter(policy: RateLimitPolicy | ((key: KeyRecord) => RateLimitPolicy) = {}): RateLimiter {
  // One window table per (points, duration, kind), as createRateLimiterWith asks: a key's rate and
  // quota never share a counter.
  return createRateLimiterWith((points, duration) => createMemoryWindow(points, duration), policy)
}
