import type { KeyRecord } from '@sigil/core'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { createRateLimiterWith, type RateLimiter, type RateLimitPolicy } from './internal/rate-limiter.js'

// The `@sigil/server/rate-limit` entry: the only one that loads rate-limiter-flexible, so the main
// entry stays free of it (edge bundles, Workers).
export { createRateLimiterWith, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from './internal/rate-limiter.js'

/**
 * In-process rate limits and quotas on rate-limiter-flexible's memory backend.
 *
 * @example
 * ```ts
 * import { createMemoryRateLimiter } from '@sigil/server/rate-limit'
 * const rateLimiter = createMemoryRateLimiter({ rate: { points: 100, windowMs: 1000 } })
 * ```
 */
export function createMemoryRateLimiter(policy: RateLimitPolicy | ((key: KeyRecord) => RateLimitPolicy) = {}): RateLimiter {
  return createRateLimiterWith((points, duration, kind) => new RateLimiterMemory({ points, duration, keyPrefix: kind }), policy)
}
