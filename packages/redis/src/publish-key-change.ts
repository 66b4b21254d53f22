import { DEFAULT_PREFIX, keyLayout } from './key-layout.js'
import type { RedisClient } from './redis-client.js'

/** What a fan-out message carries: the changed key (and, for a rotation, its successor). Never a secret. */
export interface KeyChangeMessage {
  type: string
  keyId: string
  replacedBy?: string
}

/**
 * Publish one key change on the fan-out channel, e.g. from `sigil keys revoke` or an admin job
 * running outside any server.
 *
 * @example
 * ```ts
 * await store.revoke(keyId)
 * await publishKeyChange(redis, { type: 'revoked', keyId })
 * ```
 */
export async function publishKeyChange(client: RedisClient, message: KeyChangeMessage, options: { prefix?: string } = {}): Promise<void> {
  const { type, keyId, replacedBy } = message
  await client.publish(
    keyLayout(options.prefix ?? DEFAULT_PREFIX).channel,
    JSON.stringify({ type, keyId, ...(replacedBy ? { replacedBy } : {}) }),
  )
}

/** Publish with a few retries off the request path: a lost announcement would outlive the cache TTL. */
export function publishSoon(client: RedisClient, message: KeyChangeMessage, prefix: string, closed: () => boolean): void {
  let attempt = 0
  const go = () => {
    publishKeyChange(client, message, { prefix }).catch(() => {
      if (++attempt < 8 && !closed()) setTimeout(go, Math.min(100 * 2 ** attempt, 2_000)).unref()
    })
  }
  go()
}
