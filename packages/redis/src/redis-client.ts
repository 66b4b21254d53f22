import type { Cluster, Redis, RedisOptions } from 'ioredis'
import type { keepRedisAlive } from './liveness.js'

/** A user-owned ioredis client: a single node (`new Redis()`) or a cluster (`new Redis.Cluster()`). */
export type RedisClient = Redis | Cluster

/**
 * ioredis settings that make Sigil fail closed fast while Redis is away, and recover by itself:
 *
 * - `enableOfflineQueue: false` — a command sent while disconnected fails at once instead of
 *   queueing in memory until Redis returns (the verifier answers 503, nothing is accepted).
 * - `commandTimeout` — a command sent to a Redis that stopped answering (no RST, e.g. a network
 *   partition) fails after this many ms. Keep it below the verifier's `storeTimeoutMs`.
 * - `maxRetriesPerRequest: 1` and `autoResendUnfulfilledCommands: false` — a command the
 *   verifier already gave up on (503) is not sent again after a reconnect.
 * - `retryStrategy` — reconnect quickly (50 ms steps, at most 1 s apart), forever.
 * - `keepAlive` — TCP keepalive after 10 s idle, so the kernel notices a peer host that vanished.
 *
 * A connection that stays open but stops answering (frozen path, `SIGSTOP`ped server) is not
 * something ioredis notices: the stores run {@link keepRedisAlive} on their client, which PINGs
 * it and drops a connection that does not answer, so service resumes on its own.
 *
 * Spread it into your own options; the client stays yours.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
 * const redis = new Redis(process.env.REDIS_URL!, { ...RECOMMENDED_REDIS_OPTIONS, connectionName: 'api' })
 * ```
 */
export const RECOMMENDED_REDIS_OPTIONS = {
  enableOfflineQueue: false,
  commandTimeout: 500,
  maxRetriesPerRequest: 1,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2_000,
  keepAlive: 10_000,
  retryStrategy: (times: number) => Math.min(times * 50, 1_000),
} as const satisfies RedisOptions

/**
 * True when `client` looks like an ioredis client (duck-typed, so ioredis 5 and 6 both pass).
 *
 * @example
 * ```ts
 * if (!isRedisClient(client)) throw new TypeError('pass an ioredis client')
 * ```
 */
export function isRedisClient(client: unknown): client is RedisClient {
  const c = client as Partial<Record<string, unknown>> | null
  return typeof c === 'object' && c !== null && typeof c.set === 'function' && typeof c.eval === 'function'
}
