import { ConfigurationError, type KeyRecord } from '@sigil/core'
import { checkOptions, optionNames } from '@sigil/core/internal'
import { createRateLimiterWith, type RateLimiter, type RateLimitPolicy } from '@sigil/server'
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { checkInterval, watchRedisConfig } from './config-watch.js'
import { DEFAULT_PREFIX, keyLayout } from './key-layout.js'
import { keepRedisAlive, type RedisLivenessOptions, suspectOnError } from './liveness.js'
import { isRedisClient, type RedisClient } from './redis-client.js'

/** Options of {@link createRedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  /** Prefix of every key (inside the hash tag). Default `sigil`. */
  prefix?: string
  /** Liveness check of the client's connection ({@link keepRedisAlive}); `false` turns it off. */
  liveness?: RedisLivenessOptions | false
  /**
   * How often Redis' eviction settings are read again after the first reading at start. Default
   * 10 000 ms. A Redis that may evict keys (an evicted counter restarts at zero: a quota would
   * double) makes `consume` fail (503) with a `ConfigurationError` cause.
   */
  configCheckMs?: number
}

const RATE_LIMITER_OPTION_NAMES = optionNames<RedisRateLimiterOptions>({ prefix: true, liveness: true, configCheckMs: true })

/** Options that would let rate-limiter-flexible answer without Redis; refused (fail closed). */
const UNSAFE = ['insuranceLimiter', 'inMemoryBlockOnConsumed', 'inMemoryBlockDuration'] as const

/**
 * Rate limits and quotas per key (or per principal) shared by every instance, on
 * rate-limiter-flexible's `RateLimiterRedis` (an atomic Lua `INCRBY` + expiry per window).
 * Limits come from the key record (`rateLimits.rate`, `rateLimits.quota`), else from `policy`; the
 * decision logic and the `RateLimit`/`RateLimit-Policy`/`Retry-After` headers are the server's
 * (`createRateLimiterWith`).
 *
 * Fails closed: no insurance limiter and no in-memory blocking, and `rejectIfRedisNotReady`, so
 * while Redis is down `consume` throws at once and the verifier answers 503 — a request is never
 * let through because the counter could not be read. Keys are
 * `{<prefix>:<keyId>}:rate:<points>:<seconds>` (per principal: `{<prefix>:principal:<p>}:…`).
 *
 * @example
 * ```ts
 * const rateLimiter = createRedisRateLimiter(redis, { rate: { points: 100, windowMs: 1000 } }, { prefix: 'myapp' })
 * await verify(request, { keys, nonceStore, rateLimiter })
 * ```
 */
export function createRedisRateLimiter(
  client: RedisClient,
  policy: RateLimitPolicy | ((key: KeyRecord) => RateLimitPolicy) = {},
  options: RedisRateLimiterOptions = {},
): RateLimiter {
  if (!isRedisClient(client)) throw new ConfigurationError('createRedisRateLimiter needs an ioredis client')
  for (const k of UNSAFE) {
    if (k in (options as Record<string, unknown>)) throw new ConfigurationError(`${k} would accept requests while Redis is down`)
  }
  checkOptions('Redis rate limiter options', options, RATE_LIMITER_OPTION_NAMES)
  const layout = keyLayout(options.prefix ?? DEFAULT_PREFIX)
  const live = options.liveness === false ? undefined : keepRedisAlive(client, options.liveness)
  // A RateLimiterRes rejection is a "no" (limit reached); only an Error says the connection may be dead.
  const failed = live ? suspectOnError(live) : (e: unknown) => Promise.reject(e)
  const config = watchRedisConfig(client, { intervalMs: checkInterval(options.configCheckMs) })
  let configReady = false
  void config.ready.then(() => {
    configReady = true
  })
  const guard = async (): Promise<void> => {
    if (!configReady) {
      if (client.status !== 'ready') throw new Error('Redis is not connected')
      await config.ready
    }
    const problem = config.problem
    if (problem) throw problem
  }
  return createRateLimiterWith((points, duration, kind) => {
    const limiter = new RateLimiterRedis({
      storeClient: client,
      points,
      duration,
      // Our layout builds the whole key (with its hash tag); the library must not prepend its own.
      keyPrefix: '',
      rejectIfRedisNotReady: true,
    })
    return {
      consume: async (subject: string) => {
        if (!configReady || config.problem) await guard()
        return limiter.consume(layout.limit(subject, kind, points, duration)).catch(failed)
      },
    }
  }, policy)
}
