import { ConfigurationError } from '@sigil/core'
import { z } from 'zod'

/**
 * Default prefix of every Redis key and of the pub/sub channel.
 *
 * @example
 * ```ts
 * keyLayout(DEFAULT_PREFIX).channel // 'sigil:keys:changed'
 * ```
 */
export const DEFAULT_PREFIX = 'sigil'

/** Where `@sigil/redis` keeps things, for one prefix. All keys of one API key share a hash slot. */
export interface KeyLayout {
  readonly prefix: string
  /** `{<prefix>:<keyId>}:nonce:<nonce>` — replay record of one (keyId, nonce) pair. */
  nonce(keyId: string, nonce: string): string
  /** `{<prefix>:<keyId>}:<kind>:<points>:<seconds>` for a key, `{<prefix>:principal:<p>}:…` for a principal. */
  limit(subject: string, kind: 'rate' | 'quota', points: number, seconds: number): string
  /** `{<prefix>:<keyId>}:usage:<YYYY-MM-DD>` — one hash per key and UTC day. */
  usage(keyId: string, day: string): string
  /** `{<prefix>}:usage:_unknown:<YYYY-MM-DD>` — one hash per day for every key id the store did not know. */
  unknownUsage(day: string): string
  /** `{<prefix>}:nonce-epoch` — when this Redis (as far as the nonce store can tell) lost its nonces. */
  readonly epoch: string
  /** `{<prefix>:<keyId>}:nonce-epoch` — the same, per hash tag, on a Redis Cluster (one slot per key). */
  tagEpoch(keyId: string): string
  /** `<prefix>:keys:changed` — the revocation fan-out channel. */
  readonly channel: string
}

const prefixSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^{}\s]+$/, 'must not contain braces or whitespace')

/**
 * Key ids go inside the hash tag, so they must not carry `{`, `}` or `:`; `encodeURIComponent`
 * removes all three and is injective (a literal `%` becomes `%25`). Sigil key ids (8-64 letters
 * and digits) come out unchanged.
 */
const part = (s: string) => encodeURIComponent(s)

/**
 * The Redis key layout under `prefix`. Braces make the `{prefix:keyId}` part a Redis Cluster hash
 * tag, so a key's nonces, limits and usage live on one slot (and a per-key pipeline is legal on a
 * cluster).
 *
 * @example
 * ```ts
 * const layout = keyLayout('myapp')
 * layout.nonce('AbCd1234', 'n0nce') // '{myapp:AbCd1234}:nonce:n0nce'
 * layout.channel // 'myapp:keys:changed'
 * ```
 */
export function keyLayout(prefix: string = DEFAULT_PREFIX): KeyLayout {
  const parsed = prefixSchema.safeParse(prefix)
  if (!parsed.success) throw new ConfigurationError('invalid Redis key prefix', { cause: parsed.error })
  const tag = (keyId: string) => `{${prefix}:${part(keyId)}}`
  return {
    prefix,
    // The nonce follows a fixed separator after the closing brace, so it needs no escaping.
    nonce: (keyId, nonce) => `${tag(keyId)}:nonce:${nonce}`,
    limit(subject, kind, points, seconds) {
      // createRateLimiterWith charges `k:<keyId>` or `p:<principal>`.
      const t = subject.startsWith('k:') ? tag(subject.slice(2)) : `{${prefix}:principal:${part(subject.slice(2))}}`
      return `${t}:${kind}:${points}:${seconds}`
    },
    usage: (keyId, day) => `${tag(keyId)}:usage:${day}`,
    unknownUsage: (day) => `{${prefix}}:usage:_unknown:${day}`,
    epoch: `{${prefix}}:nonce-epoch`,
    tagEpoch: (keyId) => `${tag(keyId)}:nonce-epoch`,
    channel: `${prefix}:keys:changed`,
  }
}

/**
 * The UTC day of an instant, `YYYY-MM-DD`: usage is bucketed by it.
 *
 * @example
 * ```ts
 * utcDay(new Date('2025-03-01T23:30:00-05:00')) // '2025-03-02'
 * ```
 */
export function utcDay(at: Date | number): string {
  return new Date(at).toISOString().slice(0, 10)
}
