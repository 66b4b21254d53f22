import { ConfigurationError } from '@sigil/core'
import type { MasterKeyRing } from './master-key.js'
import { openSecret, type SealedSecret, sealSecret } from './secret-box.js'

// Sealed like a key secret, under a key id no generated key can have (ids are base62), so a
// check value can never be confused with, or pasted onto, a real row.
const CHECK_ID = '#master-key-check'
const CHECK_PLAINTEXT = new Uint8Array(32)

/** A stored check value: the constant sealed under one master-key version. */
export interface MasterKeyCheck {
  version: string
  data: Uint8Array
}

/** What the check reads from a store: its check values and, per version, one sealed row. */
export interface MasterKeyEvidence {
  checks: ReadonlyMap<string, Uint8Array>
  /** One row sealed under `version`, for stores created before check values existed. */
  sample(version: string): { keyId: string; sealed: SealedSecret } | undefined
}

function opens(ring: MasterKeyRing, keyId: string, sealed: SealedSecret): boolean {
  try {
    openSecret(ring, keyId, sealed)
    return true
  } catch {
    return false
  }
}

/**
 * Check every version of `ring` against what the store already holds, before anything is
 * written: a version with a stored check value must open it; a version without one must open a
 * row sealed under it, if there is one. Returns the check values to store for versions seen for
 * the first time. A mismatch is a `ConfigurationError` naming the version (never key material).
 *
 * @example
 * ```ts
 * const fresh = checkMasterKeys(ring, { checks, sample })
 * for (const c of fresh) insertCheck(c.version, c.data)
 * ```
 */
export function checkMasterKeys(ring: MasterKeyRing, evidence: MasterKeyEvidence): MasterKeyCheck[] {
  const fresh: MasterKeyCheck[] = []
  for (const version of ring.keys.keys()) {
    const stored = evidence.checks.get(version)
    const ok = stored
      ? opens(ring, CHECK_ID, { version, data: stored })
      : ((s) => !s || opens(ring, s.keyId, s.sealed))(evidence.sample(version))
    if (!ok) {
      throw new ConfigurationError(
        `SIGIL_MASTER_KEY does not match this key store: master-key version ${version} is not the key this store's secrets were encrypted with (wrong key for that version?). Nothing was written.`,
      )
    }
    if (!stored) fresh.push({ version, data: sealSecret({ current: version, keys: ring.keys }, CHECK_ID, CHECK_PLAINTEXT).data })
  }
  return fresh
}
