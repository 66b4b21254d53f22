import { ConfigurationError, type KeyRecord, type RateLimits, SigilError } from '@sigil/core'
import { checkOptions, optionNames, optionsError, type Renames, rateLimitsProblem } from '@sigil/core/internal'

/** The outcome of charging one request to a key. */
export interface RateLimitDecision {
  allowed: boolean
  /** Which limit said no. */
  code?: 'RATE_LIMITED' | 'QUOTA_EXCEEDED'
  limit: number
  remaining: number
  /** Milliseconds until the window resets, rounded up to whole seconds (the headers' unit). */
  resetMs: number
  /** Window length in milliseconds (`RateLimit-Policy` gives it in seconds). */
  windowMs: number
}

/**
 * Rate limits and quotas per key. Implementations: {@link createMemoryRateLimiter} here, Redis in
 * `@sigil/redis`. Throwing means the limiter is unavailable: the verifier answers 503.
 */
export interface RateLimiter {
  consume(key: KeyRecord): Promise<RateLimitDecision>
}

/** Limits applied when a key record carries none (`rate.windowMs`, `quota.periodMs`: milliseconds). */
export interface RateLimitPolicy extends RateLimits {
  /** Charge per principal instead of per key id. */
  perPrincipal?: boolean
}

const POLICY_NAMES = optionNames<RateLimitPolicy>({ rate: true, quota: true, perPrincipal: true })
const LIMIT_NAMES = { rate: ['points', 'windowMs'], quota: ['points', 'periodMs'] } as const
const RENAMES: Renames = { windowSeconds: ['windowMs', 'milliseconds'], periodSeconds: ['periodMs', 'milliseconds'] }

/**
 * Refuse an unknown field (naming the closest known one), a policy still written in seconds
 * (`windowSeconds`, `periodSeconds`, naming the new field), and a duration that is not a positive
 * number of milliseconds.
 */
function checkPolicy(p: RateLimitPolicy): RateLimitPolicy {
  checkOptions('rate limit policy', p, POLICY_NAMES, RENAMES)
  for (const [kind, field] of [
    ['rate', 'windowMs'],
    ['quota', 'periodMs'],
  ] as const) {
    const l = p[kind] as Record<string, unknown> | undefined
    if (l === undefined) continue
    checkOptions('rate limit policy', l, LIMIT_NAMES[kind], RENAMES, kind)
    const ms = l[field]
    if (typeof ms !== 'number' || !(ms > 0))
      throw optionsError('rate limit policy', `${kind}.${field}`, 'a positive number of milliseconds')
  }
  return p
}

/** What a limiter's consume resolves (or, past the limit, rejects) with: rate-limiter-flexible's shape. */
interface LimiterResult {
  remainingPoints: number
  msBeforeNext: number
}

/**
 * A limiter: resolves when allowed, rejects with a result (not an Error) when not. The memory
 * window (memory-window.ts) and rate-limiter-flexible's limiters (the Redis one) both fit.
 */
export type Limiter = { consume(key: string, points?: number): Promise<LimiterResult> }

// A limiter rejects with a plain result when the limit is hit, and with an Error when its backend
// fails (which must stay a failure: 503).
const isLimitHit = (e: unknown): e is LimiterResult =>
  typeof e === 'object' && e !== null && !(e instanceof Error) && typeof (e as LimiterResult).msBeforeNext === 'number'

/**
 * Shared decision logic over limiters: the rate window first, then the
 * quota; limits come from the key record, else the policy. `make` builds a limiter for a
 * (points, duration, kind) triple — memory here, Redis in `@sigil/redis`.
 */
export function createRateLimiterWith(
  make: (points: number, durationSeconds: number, kind: 'rate' | 'quota') => Limiter,
  policy: RateLimitPolicy | ((key: KeyRecord) => RateLimitPolicy) = {},
): RateLimiter {
  if (typeof policy !== 'function') checkPolicy(policy)
  const limiters = new Map<string, Limiter>()
  const get = (points: number, duration: number, kind: 'rate' | 'quota') => {
    const id = `${kind}:${points}:${duration}`
    let l = limiters.get(id)
    if (!l) {
      l = make(points, duration, kind)
      limiters.set(id, l)
    }
    return l
  }
  const charge = async (l: Limiter, id: string, points: number, window: number, code: 'RATE_LIMITED' | 'QUOTA_EXCEEDED') => {
    try {
      const r = await l.consume(id)
      return {
        allowed: true,
        limit: points,
        remaining: r.remainingPoints,
        resetMs: Math.ceil(r.msBeforeNext / 1000) * 1000,
        windowMs: window * 1000,
      }
    } catch (e) {
      if (isLimitHit(e)) {
        return {
          allowed: false,
          code,
          limit: points,
          remaining: 0,
          resetMs: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) * 1000,
          windowMs: window * 1000,
        }
      }
      throw e
    }
  }
  return {
    async consume(key) {
      // A key whose stored limits no rate limiter can apply is refused, never run unlimited; it
      // is the row that is wrong, for good (KEY_RECORD_INVALID, not a 503 retried for ever).
      if (key.rateLimits !== undefined && key.rateLimits !== null) {
        const bad = rateLimitsProblem(key.rateLimits)
        if (bad) {
          const field = bad.field ? `rateLimits.${bad.field}` : 'rateLimits'
          throw new SigilError('KEY_RECORD_INVALID', `key ${key.keyId}: its stored ${field} ${bad.reason}`)
        }
      }
      const p = typeof policy === 'function' ? checkPolicy(policy(key)) : policy
      // Limiters count durations in seconds (rate-limiter-flexible's unit).
      const rate = key.rateLimits?.rate ?? p.rate
      const quota = key.rateLimits?.quota ?? p.quota
      const id = p.perPrincipal ? `p:${key.principal}` : `k:${key.keyId}`
      let last: RateLimitDecision = { allowed: true, limit: 0, remaining: 0, resetMs: 0, windowMs: 0 }
      if (rate) {
        const s = rate.windowMs / 1000
        if (!(s > 0))
          throw new ConfigurationError(`rate limits of key ${key.keyId}: rate.windowMs must be a positive number of milliseconds`)
        last = await charge(get(rate.points, s, 'rate'), id, rate.points, s, 'RATE_LIMITED')
        if (!last.allowed) return last
      }
      if (quota) {
        const s = quota.periodMs / 1000
        if (!(s > 0))
          throw new ConfigurationError(`rate limits of key ${key.keyId}: quota.periodMs must be a positive number of milliseconds`)
        const q = await charge(get(quota.points, s, 'quota'), id, quota.points, s, 'QUOTA_EXCEEDED')
        if (!q.allowed || !rate) return q
      }
      return last
    },
  }
}
