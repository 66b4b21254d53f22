import { ConfigurationError } from '@sigil/core'
import { zodOptionsError } from '@sigil/core/internal'
import type { UsageEvent, UsageRecorder } from '@sigil/server'
import { z } from 'zod'
import { DEFAULT_PREFIX, keyLayout, utcDay } from './key-layout.js'
import { keepRedisAlive, type RedisLivenessOptions } from './liveness.js'
import { isRedisClient, type RedisClient } from './redis-client.js'
import { getUnknownUsage, getUsage, type UsageRange, type UsageReport } from './usage-report.js'

/** Options of {@link createRedisUsageRecorder}. */
export interface RedisUsageRecorderOptions {
  /** Prefix of every key (inside the hash tag). Default `sigil`. */
  prefix?: string
  /** How often buffered counts are written. Default 1000 ms. */
  flushIntervalMs?: number
  /** Most (key, day) buckets buffered between flushes; events beyond are dropped and counted. Default 10 000. */
  maxPending?: number
  /** Days a usage hash is kept after its last write. Default 90. */
  retentionDays?: number
  /**
   * Which events to keep. Default: all. Events whose key id the key store did not know
   * (`keyFound !== true`: unknown ids, and rejections before the lookup such as `CLOCK_SKEW`)
   * are never stored under their key id — anyone can invent key ids — but counted in the one
   * unknown-ids hash per day ({@link getUnknownUsage}).
   */
  filter?: (event: UsageEvent) => boolean
  /** Liveness check of the client's connection ({@link keepRedisAlive}); `false` turns it off. */
  liveness?: RedisLivenessOptions | false
}

/** A usage recorder that also reads back what it wrote. */
export interface RedisUsageRecorder extends UsageRecorder {
  /** Write buffered counts now (also runs every `flushIntervalMs`). Never rejects. */
  flush(): Promise<void>
  /** Usage of one key per UTC day. */
  getUsage(keyId: string, range?: UsageRange): Promise<UsageReport>
  /** Usage of every key id the key store did not know, per UTC day (one bucket for all of them). */
  getUnknownUsage(range?: UsageRange): Promise<UsageReport>
  /** Events dropped because the buffer was full (Redis away for long). */
  readonly dropped: number
  /** Stop the timer and flush what is left. */
  close(): Promise<void>
}

interface Bucket {
  /** The key id, or undefined for the unknown-ids bucket. */
  keyId: string | undefined
  day: string
  counts: Map<string, number>
  lastAt: number
  lastAddress: string
}

// One round trip per bucket: add the counts, keep the latest use (instances race), refresh the TTL.
const ADD_USAGE = `
for i = 4, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] ~= '0' then
  local cur = tonumber(redis.call('HGET', KEYS[1], 'lastUsedAt') or '0')
  if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[2], 'lastAddress', ARGV[3]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`

const schema = z.strictObject({
  prefix: z.string().optional(),
  flushIntervalMs: z.number().int().min(10).optional(),
  maxPending: z.number().int().min(1).optional(),
  retentionDays: z.number().int().min(1).max(3660).optional(),
  filter: z.custom<(e: UsageEvent) => boolean>((v) => typeof v === 'function').optional(),
  liveness: z.unknown().optional(),
})

const keepAll = () => true

/**
 * Usage per key and UTC day — accepted count, rejections by code, last use time and address —
 * recorded off the request path: `record` only adds to an in-memory buffer (O(1), never throws,
 * never awaits Redis); a timer writes the buffer in one Lua call per (key, day). When Redis is
 * away the counts stay buffered (bounded by `maxPending`) and are written on the next flush.
 * Stored as hashes `{<prefix>:<keyId>}:usage:<YYYY-MM-DD>` for key ids the key store knew; every
 * other event (forged or unknown key ids, rejections before the key lookup, no key id at all) is
 * counted in one hash per day (`{<prefix>}:usage:_unknown:<day>`, read with
 * {@link getUnknownUsage}), so unauthenticated traffic creates no
 * state per attacker-chosen id.
 *
 * @example
 * ```ts
 * const usage = createRedisUsageRecorder(redis, { prefix: 'myapp' })
 * const verifier = createVerifier({ keys, nonceStore, usage })
 * const report = await usage.getUsage('AbCd1234', { from: '2025-01-01', to: '2025-01-31' })
 * ```
 */
export function createRedisUsageRecorder(client: RedisClient, options: RedisUsageRecorderOptions = {}): RedisUsageRecorder {
  if (!isRedisClient(client)) throw new ConfigurationError('createRedisUsageRecorder needs an ioredis client')
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('usage recorder options', parsed.error, schema)
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const layout = keyLayout(prefix)
  const maxPending = options.maxPending ?? 10_000
  const ttlS = String((options.retentionDays ?? 90) * 86_400)
  const keep = options.filter ?? keepAll
  const live = options.liveness === false ? undefined : keepRedisAlive(client, options.liveness)
  let pending = new Map<string, Bucket>()
  let dropped = 0
  let flushing: Promise<void> | undefined

  const add = (b: Bucket, field: string, n: number) => b.counts.set(field, (b.counts.get(field) ?? 0) + n)
  const merge = (into: Map<string, Bucket>, b: Bucket) => {
    const id = `${b.keyId === undefined ? '\u0001' : `k${b.keyId}`}\u0000${b.day}`
    const cur = into.get(id)
    if (!cur) {
      if (into.size >= maxPending) {
        for (const n of b.counts.values()) dropped += n
        return
      }
      into.set(id, b)
      return
    }
    for (const [f, n] of b.counts) add(cur, f, n)
    if (b.lastAt > cur.lastAt) {
      cur.lastAt = b.lastAt
      cur.lastAddress = b.lastAddress
    }
  }

  const write = async (b: Bucket) => {
    const args = [ttlS, String(b.lastAt), b.lastAddress]
    for (const [f, n] of b.counts) args.push(f, String(n))
    const key = b.keyId === undefined ? layout.unknownUsage(b.day) : layout.usage(b.keyId, b.day)
    await client.eval(ADD_USAGE, 1, key, ...args)
  }

  const flushOnce = async () => {
    if (pending.size === 0) return
    const batch = pending
    pending = new Map()
    const failed: Bucket[] = []
    await Promise.all([...batch.values()].map((b) => write(b).catch(() => failed.push(b))))
    if (failed.length) live?.suspect()
    // Put back what did not land, for the next flush (a partial write can count twice; usage is advisory).
    for (const b of failed) merge(pending, b)
  }
  const flush = (): Promise<void> => {
    // Serialise flushes so a slow Redis never has two batches racing.
    flushing = (flushing ?? Promise.resolve()).then(flushOnce).catch(() => {})
    return flushing
  }
  const timer = setInterval(flush, options.flushIntervalMs ?? 1_000)
  timer.unref()

  return {
    record(event) {
      if (!keep(event)) return
      const accepted = event.outcome === 'accepted'
      // Only a key id the store knew gets its own hash; an accept implies the key was found.
      const known = event.keyId !== undefined && (event.keyFound === true || accepted)
      const at = event.at.getTime()
      merge(pending, {
        keyId: known ? event.keyId : undefined,
        day: utcDay(at),
        counts: new Map([[accepted ? 'accepted' : `rej:${event.outcome}`, 1]]),
        lastAt: known && accepted ? at : 0,
        lastAddress: known && accepted ? (event.address ?? '') : '',
      })
    },
    flush,
    getUsage: (keyId, range) => getUsage(client, keyId, range, { prefix }),
    getUnknownUsage: (range) => getUnknownUsage(client, range, { prefix }),
    get dropped() {
      return dropped
    },
    async close() {
      clearInterval(timer)
      await flush()
    },
  }
}
