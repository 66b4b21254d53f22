import type { CliIo } from '../io.js'
import { type StoreFlags, withStore } from '../open-store.js'
import type { Check } from './explain-checks.js'

/**
 * `sigil explain` without a secret: when a key store is named (`--store`, `--database-url`,
 * `SIGIL_STORE`, `SIGIL_DATABASE_URL`), look the signature's key id up there and report what the
 * verifier's key step would say. Returns the secret of a usable key for the MAC check; undefined
 * when no store is named. Never prints the secret.
 *
 * @example
 * ```ts
 * const found = await keyCheck(values, io, entry.params.keyid, nowSec)
 * ```
 */
export async function keyCheck(
  flags: StoreFlags,
  io: CliIo,
  keyId: string,
  nowSec: number,
): Promise<{ check: Check; secret?: Uint8Array } | undefined> {
  const named = flags.store ?? flags['database-url'] ?? io.env.SIGIL_STORE ?? io.env.SIGIL_DATABASE_URL
  if (!named) return undefined
  const key = await withStore(flags, io, async (store) => store?.get(keyId), true)
  if (!key) return { check: { step: 'key', ok: false, code: 'KEY_UNKNOWN', detail: `no key ${keyId} in the store` } }
  const nowMs = nowSec * 1000
  if (key.status === 'revoked') return { check: { step: 'key', ok: false, code: 'KEY_REVOKED', detail: `${keyId} is revoked` } }
  const deadline = [key.expiresAt, key.notAfter].find((d) => d !== undefined && d.getTime() <= nowMs)
  if (key.status === 'expired' || deadline) {
    return {
      check: { step: 'key', ok: false, code: 'KEY_EXPIRED', detail: `${keyId} expired${deadline ? ` at ${deadline.toISOString()}` : ''}` },
    }
  }
  return { check: { step: 'key', ok: true, detail: `${keyId} is active (principal ${key.principal})` }, secret: key.secret }
}
