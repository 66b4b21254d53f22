import { ConfigurationError, type NonceStore } from '@sigil/core'
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

/**
 * Replay protection shared by every instance: one `SET key 1 NX PX ttl` per request, keyed by
 * (keyId, nonce) as `{<prefix>:<keyId>}:nonce:<nonce>`. `SET NX` is atomic in Redis, so of any
 * number of concurrent claims of a pair, on any number of servers, exactly one wins. When Redis
 * cannot answer the call rejects, and the verifier turns that into `STORE_UNAVAILABLE` (503):
 * nothing is accepted without its replay check. Configure the client with
 * {@link RECOMMENDED_REDIS_OPTIONS} so that happens quickly.
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
  const layout = keyLayout(options.prefix ?? DEFAULT_PREFIX)
  const live = options.liveness === false ? undefined : keepRedisAlive(client, options.liveness)
  const failed = live ? suspectOnError(live) : (e: unknown) => Promise.reject(e)
  return {
    async checkAndSet(keyId, nonce, ttlMs) {
      const ttl = Math.max(1, Math.ceil(ttlMs))
      // 'OK' when the pair was new; null when it already existed.
      const r = await client.set(layout.nonce(keyId, nonce), '1', 'PX', ttl, 'NX').catch(failed)
      return r === 'OK'
    },
  }
}
