import { ConfigurationError } from '@sigil/core'
import { checkOptions, optionNames } from '@sigil/core/internal'
import type { Redis } from 'ioredis'
import { DEFAULT_PREFIX, keyLayout } from './key-layout.js'
import { type KeyChangeMessage, publishKeyChange, publishSoon } from './publish-key-change.js'
import { isRedisClient, type RedisClient } from './redis-client.js'

/**
 * The parts of a key cache the fan-out drives: `@sigil/keys`' `createCachedKeyStore` result fits.
 * `onChange`, when present, is how local changes get published.
 */
export interface InvalidatableCache {
  invalidate(keyId: string): void
  clear(): void
  onChange?(listener: (event: KeyChangeMessage) => void): () => void
}

/** Options of {@link connectKeyCache}. */
export interface KeyCacheFanoutOptions {
  /** Prefix of the channel `<prefix>:keys:changed`. Default `sigil`. */
  prefix?: string
  /** A dedicated connection for SUBSCRIBE. Default `client.duplicate()`, closed by `close()`. */
  subscriber?: Redis
  /** While the subscription is lost the whole cache is dropped this often. Default 1000 ms. */
  fallbackTtlMs?: number
  /** PING the subscription this often to notice a silent loss. Default 5000 ms. */
  heartbeatMs?: number
}

const FANOUT_OPTION_NAMES = optionNames<KeyCacheFanoutOptions>({ prefix: true, subscriber: true, fallbackTtlMs: true, heartbeatMs: true })

/** A running fan-out. */
export interface KeyCacheFanout {
  /** True while the subscription is live (messages arrive); false while on the short-TTL fallback. */
  readonly subscribed: boolean
  /** Resolves once the first subscription is live. */
  readonly ready: Promise<void>
  /** Announce a change made elsewhere (e.g. by an admin tool) to every instance. */
  publish(message: KeyChangeMessage): Promise<void>
  /** Stop listening and publishing; closes the subscriber if it was created here. */
  close(): Promise<void>
}

/**
 * Revocation fan-out: wire a key cache to Redis pub/sub so that a revoke or rotate on any instance
 * evicts the key from every instance's cache within milliseconds, however long the cache TTL.
 * Local changes (the cache's `onChange`) are published on `<prefix>:keys:changed`; messages on
 * that channel invalidate the key here. While the subscription is down (Redis away, connection
 * lost, heartbeat unanswered) the cache is dropped every `fallbackTtlMs`, so a revocation
 * still lands within that bound; ioredis reconnects and resubscribes, and on resubscribe the
 * cache is dropped once more, since messages may have been missed in the gap.
 *
 * @example
 * ```ts
 * const keys = createCachedKeyStore(createSqliteKeyStore({ path, masterKey }), { ttlMs: 10 * 60_000 })
 * const fanout = connectKeyCache(keys, redis, { prefix: 'myapp' })
 * await fanout.ready
 * await verify(request, { keys, nonceStore })
 * ```
 */
export function connectKeyCache(cache: InvalidatableCache, client: RedisClient, options: KeyCacheFanoutOptions = {}): KeyCacheFanout {
  if (!isRedisClient(client)) throw new ConfigurationError('connectKeyCache needs an ioredis client')
  if (typeof cache?.invalidate !== 'function' || typeof cache.clear !== 'function')
    throw new ConfigurationError('connectKeyCache needs a cache with invalidate() and clear()')
  checkOptions('key cache fan-out options', options, FANOUT_OPTION_NAMES)
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const { channel } = keyLayout(prefix)
  const fallbackMs = options.fallbackTtlMs ?? 1_000
  const heartbeatMs = options.heartbeatMs ?? 5_000
  const owned = !options.subscriber
  const sub = options.subscriber ?? (client.duplicate() as Redis)
  let closed = false
  let subscribed = false
  let fallback: ReturnType<typeof setInterval> | undefined
  let markReady: () => void = () => {}
  const ready = new Promise<void>((r) => {
    markReady = r
  })

  const down = () => {
    subscribed = false
    if (fallback || closed) return
    cache.clear()
    fallback = setInterval(() => cache.clear(), fallbackMs)
    fallback.unref()
  }
  const up = () => {
    if (fallback) clearInterval(fallback)
    fallback = undefined
    // Anything announced while we were away is lost: start from the store again.
    cache.clear()
    subscribed = true
    markReady()
  }
  const subscribe = () => {
    if (closed) return
    sub.subscribe(channel).then(up, () => down())
  }

  sub.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return
    try {
      const m = JSON.parse(raw) as Partial<KeyChangeMessage>
      if (typeof m.keyId !== 'string') throw new Error('no keyId')
      cache.invalidate(m.keyId)
      if (typeof m.replacedBy === 'string') cache.invalidate(m.replacedBy)
    } catch {
      cache.clear() // an unreadable announcement still means "something changed"
    }
  })
  sub.on('ready', subscribe)
  sub.on('close', down)
  sub.on('error', () => {}) // reconnection is ioredis' job; state follows close/ready
  down() // until the first subscription is live, behave as disconnected
  if (sub.status === 'ready') subscribe()
  else if (sub.status === 'wait') sub.connect().catch(() => {})

  const heartbeat = setInterval(() => {
    if (!subscribed) return
    let answered = false
    sub.ping().then(() => {
      answered = true
    }, down)
    setTimeout(
      () => {
        if (answered || closed) return
        down()
        sub.disconnect(true) // reconnect; 'ready' resubscribes
      },
      Math.min(heartbeatMs, 2_000),
    ).unref()
  }, heartbeatMs)
  heartbeat.unref()

  const unlisten = cache.onChange?.((e) => publishSoon(client, e, prefix, () => closed))

  return {
    get subscribed() {
      return subscribed
    },
    ready,
    publish: (m) => publishKeyChange(client, m, { prefix }),
    async close() {
      closed = true
      clearInterval(heartbeat)
      if (fallback) clearInterval(fallback)
      unlisten?.()
      sub.removeListener('ready', subscribe)
      sub.removeListener('close', down)
      if (owned) sub.disconnect()
      else await sub.unsubscribe(channel).catch(() => {})
    },
  }
}
