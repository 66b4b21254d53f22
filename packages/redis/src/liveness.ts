import { ConfigurationError } from '@sigil/core'
import { zodOptionsError } from '@sigil/core/internal'
import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import { isRedisClient, type RedisClient } from './redis-client.js'

/** Options of {@link keepRedisAlive}. */
export interface RedisLivenessOptions {
  /** PING the connection this often while it is ready. Default 1000 ms. */
  intervalMs?: number
  /**
   * A PING unanswered for this long means the connection is dead: it is dropped and reopened.
   * Default: the client's `commandTimeout`, at least 1000 ms (a connection is never judged
   * faster than its commands are).
   */
  timeoutMs?: number
}

/** The liveness check of one client (shared by every store on that client). */
export interface RedisLiveness {
  /** A command failed: check the connection now instead of at the next interval. */
  suspect(): void
  /** Times a dead connection was dropped and reopened. */
  readonly reconnects: number
  /** Stop checking (also stops by itself once the client is `quit()` or `disconnect()`ed). */
  stop(): void
}

const schema = z.strictObject({
  intervalMs: z.number().int().min(10).optional(),
  timeoutMs: z.number().int().min(10).optional(),
})

const watched = new WeakMap<object, RedisLiveness>()

/**
 * Liveness for the command path of an ioredis client, like the fan-out subscriber's heartbeat:
 * a connection that stops answering without being closed (a frozen network path, a host that
 * vanished, a `SIGSTOP`ped Redis) stays "ready" in ioredis forever, and with `commandTimeout`
 * alone every command then fails until the process restarts. Here a PING goes out every
 * `intervalMs` (and at once after any failed store command); one unanswered for `timeoutMs`
 * drops the connection (`disconnect(true)` and the socket destroyed, no FIN handshake awaited)
 * so ioredis reconnects through its `retryStrategy` — to whatever answers at that address now.
 * A connection stuck before `ready` for longer than `timeoutMs` plus its `connectTimeout` is
 * dropped the same way.
 *
 * `createRedisNonceStore`, `createRedisRateLimiter` and `createRedisUsageRecorder` call this for
 * their client; one check runs per client whoever asks first (later options are ignored).
 * Timers are `unref`'d and stop when the client ends.
 *
 * @example
 * ```ts
 * const redis = new Redis(url, RECOMMENDED_REDIS_OPTIONS)
 * keepRedisAlive(redis, { intervalMs: 1_000, timeoutMs: 1_000 }) // optional: the stores do it too
 * ```
 */
export function keepRedisAlive(client: RedisClient, options: RedisLivenessOptions = {}): RedisLiveness {
  if (!isRedisClient(client)) throw new ConfigurationError('keepRedisAlive needs an ioredis client')
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('Redis liveness options', parsed.error, schema)
  const existing = watched.get(client)
  if (existing) return existing
  const intervalMs = options.intervalMs ?? 1_000
  const opts = client.options as { commandTimeout?: number; redisOptions?: { commandTimeout?: number } }
  const timeoutMs = options.timeoutMs ?? Math.max(1_000, opts.commandTimeout ?? opts.redisOptions?.commandTimeout ?? 0)
  const nodes = (): Redis[] =>
    'nodes' in client && typeof client.nodes === 'function' ? (client as Cluster).nodes('all') : [client as Redis]
  let probing = false
  let stopped = false
  let reconnects = 0
  let lastProbe = 0
  const notReadySince = new WeakMap<Redis, number>()

  const drop = (node: Redis) => {
    reconnects++
    // The socket is destroyed rather than ended: a frozen peer never answers our FIN, and
    // ioredis only reconnects once the socket has closed.
    const stream = (node as Redis & { stream?: { destroy(): void } }).stream
    if (client !== node) (client as Cluster).disconnect(true)
    else node.disconnect(true)
    stream?.destroy()
  }

  const pingOne = (node: Redis): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      timer.unref?.()
      node.ping().then(
        () => {
          clearTimeout(timer)
          resolve(true)
        },
        () => {
          clearTimeout(timer)
          resolve(false)
        },
      )
    })

  const probe = async () => {
    if (probing || stopped) return
    if (client.status === 'end') return stop()
    probing = true
    lastProbe = Date.now()
    try {
      for (const node of nodes()) {
        const status = node.status
        if (status === 'ready') {
          notReadySince.delete(node)
          const conn = (node as Redis & { stream?: unknown }).stream
          const ok = await pingOne(node)
          // Drop only the connection that failed: it may already have been replaced.
          if (!ok && !stopped && node.status === 'ready' && (node as Redis & { stream?: unknown }).stream === conn) drop(node)
          if (!ok) break // one reconnect at a time
        } else if (status === 'connect' || status === 'connecting') {
          // Connected but the ready check (or the TCP connect) never completes.
          const since = notReadySince.get(node) ?? Date.now()
          notReadySince.set(node, since)
          const limit = timeoutMs + ((node.options as { connectTimeout?: number }).connectTimeout ?? 10_000)
          if (Date.now() - since > limit) {
            notReadySince.delete(node)
            drop(node)
            break
          }
        } else notReadySince.delete(node)
      }
    } finally {
      probing = false
    }
  }

  const timer = setInterval(() => void probe(), intervalMs)
  timer.unref?.()
  function stop() {
    stopped = true
    clearInterval(timer)
    watched.delete(client)
  }
  const liveness: RedisLiveness = {
    suspect() {
      // At most one extra probe per 100 ms, however many requests fail at once.
      if (Date.now() - lastProbe >= 100) void probe()
    },
    get reconnects() {
      return reconnects
    },
    stop,
  }
  watched.set(client, liveness)
  return liveness
}

/** Call `suspect()` when a store command failed with an error (not a normal "no" answer). */
export function suspectOnError(liveness: RedisLiveness): (e: unknown) => never {
  return (e) => {
    if (e instanceof Error) liveness.suspect()
    throw e
  }
}
