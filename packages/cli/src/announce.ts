import { KEY_CHANGE_PROPAGATION } from '@sigil/keys'
import type { KeyChangeMessage } from '@sigil/redis'
import { EXIT } from './exit-codes.js'
import type { CliIo } from './io.js'

/**
 * After any change that alters a verify outcome (revoke, rotate, scopes, expiry), tell every running server through Redis pub/sub (the same channel
 * `@sigil/redis`'s `connectKeyCache` listens on), so caches drop the key now instead of at
 * their TTL. Only when `SIGIL_REDIS_URL` is set. Returns the exit code: the change is in the
 * store either way, but a failed announcement exits 4 so scripts notice.
 *
 * @example
 * ```ts
 * return announceKeyChange(ctx.io, { type: 'revoked', keyId })
 * ```
 */
export async function announceKeyChange(io: CliIo, message: KeyChangeMessage): Promise<number> {
  return announceKeyChanges(io, [message])
}

/** {@link announceKeyChange} for several changes (a restore), on one Redis connection. */
export async function announceKeyChanges(io: CliIo, messages: readonly KeyChangeMessage[]): Promise<number> {
  if (messages.length === 0) return EXIT.OK
  const what = messages.length === 1 ? `${messages[0]?.keyId} is ${messages[0]?.type}` : `${messages.length} keys changed`
  const url = io.env.SIGIL_REDIS_URL
  if (!url) {
    io.stderr.write(`note: ${what} in the store; ${KEY_CHANGE_PROPAGATION}. Set SIGIL_REDIS_URL to announce it at once.\n`)
    return EXIT.OK
  }
  const [{ publishKeyChange, RECOMMENDED_REDIS_OPTIONS }, { Redis }] = await Promise.all([import('@sigil/redis'), import('ioredis')])
  const redis = new Redis(url, { ...RECOMMENDED_REDIS_OPTIONS, lazyConnect: true, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    await redis.connect()
    const prefix = io.env.SIGIL_REDIS_PREFIX ?? 'sigil'
    for (const m of messages) await publishKeyChange(redis, m, { prefix })
    return EXIT.OK
  } catch {
    io.stderr.write(`warning: ${what} in the store, but Redis did not take the announcement; servers see it when their key cache expires\n`)
    return EXIT.STORE
  } finally {
    redis.disconnect()
  }
}
