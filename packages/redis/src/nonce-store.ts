import { ConfigurationError, type NonceStore, VerificationError } from '@sigil/core'
import { checkOptions, optionNames } from '@sigil/core/internal'
import type { Redis } from 'ioredis'
import { DEFAULT_PREFIX, keyLayout } from './key-layout.js'
import { keepRedisAlive, type RedisLivenessOptions, suspectOnError } from './liveness.js'
import { isRedisClient, type RedisClient } from './redis-client.js'

/** Options of {@link createRedisNonceStore}. */
export interface RedisNonceStoreOptions {
  /** Prefix of every key (inside the hash tag). Default `sigil`. */
  prefix?: string
  /** Liveness check of the client's connection ({@link keepRedisAlive}); `false` turns it off. */
  liveness?: RedisLivenessOptions | false
}

const NONCE_STORE_OPTION_NAMES = optionNames<RedisNonceStoreOptions>({ prefix: true, liveness: true })

// Milliseconds of Redis' own clock.
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/**
 * KEYS: nonce, epoch. ARGV: ttl ms, created s ('' when the caller did not say).
 * The epoch is when this Redis started holding our nonces. Missing means it never did or it lost
 * its data (restart without persistence, flush, failover to an empty replica): either way every
 * nonce recorded before now may be gone, so it is set to now and signatures created before it are
 * refused (-1). They are all outside the window one TTL later, so the refusal ends by itself.
 */
const CHECK_AND_SET = `local e = redis.call('GET', KEYS[2])
if not e then
  ${NOW_MS}
  e = tostring(now)
  redis.call('SET', KEYS[2], e)
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) * 1000 < tonumber(e) then return -1 end
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 1 end
return 0`

/**
 * KEYS: epoch. ARGV: slack ms. Written once when a store is created on a Redis without an epoch
 * (first deployment): dated one second back, so requests signed in the second the service starts
 * are not refused.
 */
const PRIME = `${NOW_MS}
redis.call('SET', KEYS[1], tostring(now - tonumber(ARGV[1])), 'NX')
return 1`

type WithScripts = RedisClient & {
  sigilNonceCheck(nonceKey: string, epochKey: string, ttl: string, created: string): Promise<number>
  sigilNoncePrime(epochKey: string, slack: string): Promise<number>
}

/**
 * Replay protection shared by every instance: one atomic `SET key 1 NX PX ttl` per request, keyed
 * by (keyId, nonce) as `{<prefix>:<keyId>}:nonce:<nonce>`. Of any number of concurrent claims of
 * a pair, on any number of servers, exactly one wins. When Redis cannot answer the call rejects,
 * and the verifier turns that into `STORE_UNAVAILABLE` (503): nothing is accepted without its
 * replay check. Configure the client with {@link RECOMMENDED_REDIS_OPTIONS} so that happens
 * quickly.
 *
 * **A Redis that lost its data** (restarted without persistence, flushed, failed over to an empty
 * replica) would forget every nonce and accept replays of everything signed in the last window.
 * On a single Redis node the store keeps an epoch key (`{<prefix>}:nonce-epoch`, Redis' clock):
 * when it is missing the data was lost, the epoch becomes now, and signatures whose `created` is
 * before it are refused with `NONCE_STORE_RESET` (401, like `NONCE_REPLAYED`; an honest client signs again) until they leave the
 * window. Cluster clients keep the plain `SET NX` (the epoch cannot share every key's slot).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { createRedisNonceStore, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
 * const redis = new Redis(process.env.REDIS_URL!, RECOMMENDED_REDIS_OPTIONS)
 * const nonceStore = createRedisNonceStore(redis, { prefix: 'myapp' })
 * await verify(request, { keys, nonceStore })
 * ```
 */
export function createRedisNonceStore(client: RedisClient, options: RedisNonceStoreOptions = {}): NonceStore {
  if (!isRedisClient(client)) throw new ConfigurationError('createRedisNonceStore needs an ioredis client')
  checkOptions('Redis nonce store options', options, NONCE_STORE_OPTION_NAMES)
  const layout = keyLayout(options.prefix ?? DEFAULT_PREFIX)
  const live = options.liveness === false ? undefined : keepRedisAlive(client, options.liveness)
  const failed = live ? suspectOnError(live) : (e: unknown) => Promise.reject(e)
  const cluster = 'nodes' in client && typeof client.nodes === 'function'
  if (cluster) {
    return {
      async checkAndSet(keyId, nonce, ttlMs) {
        const ttl = Math.max(1, Math.ceil(ttlMs))
        // 'OK' when the pair was new; null when it already existed.
        const r = await client.set(layout.nonce(keyId, nonce), '1', 'PX', ttl, 'NX').catch(failed)
        return r === 'OK'
      },
    }
  }
  const redis = client as WithScripts
  if (typeof redis.sigilNonceCheck !== 'function') {
    // EVALSHA with a fallback to EVAL (a restarted Redis has no script cache).
    ;(client as Redis).defineCommand('sigilNonceCheck', { numberOfKeys: 2, lua: CHECK_AND_SET })
    ;(client as Redis).defineCommand('sigilNoncePrime', { numberOfKeys: 1, lua: PRIME })
  }
  // Once per store, at creation only: a reconnect to an emptied Redis must find no epoch.
  const prime = () => {
    redis.sigilNoncePrime(layout.epoch, '1000').catch(() => {})
  }
  if (client.status === 'ready') prime()
  else client.once('ready', prime)
  return {
    async checkAndSet(keyId, nonce, ttlMs, createdS) {
      const ttl = String(Math.max(1, Math.ceil(ttlMs)))
      const created = typeof createdS === 'number' && Number.isFinite(createdS) ? String(Math.floor(createdS)) : ''
      const r = await redis.sigilNonceCheck(layout.nonce(keyId, nonce), layout.epoch, ttl, created).catch(failed)
      if (r === -1) throw new VerificationError('NONCE_STORE_RESET', 'the nonce store lost its data after this signature was created')
      return r === 1
    },
  }
}
