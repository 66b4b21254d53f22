import { createHmac, createSecretKey, hkdfSync, type KeyObject, timingSafeEqual } from 'node:crypto'
import { ConfigurationError } from '@sigil/core'
import type { StoredKey } from './key-backend.js'
import type { MasterKeyRing } from './master-key.js'

/**
 * Every field of a key row that decides what the key may do, MACed under the master key so a row
 * (or a backup copy) edited without it is refused. AES-GCM's AAD already binds the secret to the
 * key id and master-key version; this binds the rest. Not covered: `version` and `updatedAt`
 * (bookkeeping; a CAS counter cannot grant anything) and the ciphertext (authenticated by GCM).
 */
export type RecordFields = Pick<
  StoredKey,
  | 'keyId'
  | 'principal'
  | 'scopes'
  | 'status'
  | 'createdAt'
  | 'expiresAt'
  | 'notAfter'
  | 'revokedAt'
  | 'replacedBy'
  | 'rateLimits'
  | 'metadata'
  | 'test'
> & { sealed: { version: string } }

const INFO = 'sigil/key-record-mac/v1'

// One HKDF derivation per master key (not per row): the MAC key is separate from the AES key,
// so the same 32 bytes never serve two algorithms.
const macKeys = new WeakMap<Uint8Array, KeyObject>()
function macKey(master: Uint8Array): KeyObject {
  let k = macKeys.get(master)
  if (!k) {
    k = createSecretKey(Buffer.from(hkdfSync('sha256', master, new Uint8Array(0), INFO, 32)))
    macKeys.set(master, k)
  }
  return k
}

const skipped = (x: unknown) => x === undefined || typeof x === 'function' || typeof x === 'symbol'

/**
 * JSON with object keys sorted at every depth, and JSON.stringify's own rules otherwise (toJSON,
 * undefined members dropped, non-finite numbers null): the same text for a value before it is
 * stored and after the database gives it back (jsonb reorders keys). No JSON round trip: this
 * runs on every key lookup.
 */
function canonical(v: unknown): string {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(): unknown }).toJSON()
  }
  if (v === null || skipped(v)) return 'null'
  if (typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + (skipped(v[i]) ? 'null' : canonical(v[i]))
    return `${out}]`
  }
  const o = v as Record<string, unknown>
  let out = '{'
  for (const k of Object.keys(o).sort()) {
    if (skipped(o[k])) continue
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${canonical(o[k])}`
  }
  return `${out}}`
}

const ms = (d: Date | undefined) => (d ? d.getTime() : null)

/** The exact bytes the MAC covers: a versioned, ordered JSON array of every authorization field. */
export function recordMacInput(r: RecordFields): string {
  return [
    JSON.stringify(INFO),
    JSON.stringify(r.keyId),
    JSON.stringify(r.sealed.version),
    JSON.stringify(r.principal),
    canonical(r.scopes),
    JSON.stringify(r.status),
    JSON.stringify(ms(r.createdAt)),
    JSON.stringify(ms(r.expiresAt)),
    JSON.stringify(ms(r.notAfter)),
    JSON.stringify(ms(r.revokedAt)),
    JSON.stringify(r.replacedBy ?? null),
    canonical(r.rateLimits),
    canonical(r.metadata),
    JSON.stringify(r.test === true),
  ].join('\n')
}

/**
 * HMAC-SHA256 of a row's authorization fields under a key derived (HKDF) from the master-key
 * version its secret is sealed under, so re-encrypting under a new version also re-MACs.
 *
 * @example
 * ```ts
 * const mac = recordMac(ring, row) // store it with the row; checkRecordMac(ring, row) on every read
 * ```
 */
export function recordMac(ring: MasterKeyRing, r: RecordFields): Uint8Array {
  const key = ring.keys.get(r.sealed.version)
  if (!key) throw new ConfigurationError(`key ${r.keyId} is under master-key version ${r.sealed.version}, which is not configured`)
  const h = createHmac('sha256', macKey(key)).update(recordMacInput(r)).digest()
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength)
}

/** Why a row failed {@link checkRecordMac}: the key id (public) and the reason, never key material. */
export class KeyRecordError extends ConfigurationError {
  constructor(
    readonly keyId: string,
    reason: 'missing' | 'mismatch',
  ) {
    super(
      reason === 'missing'
        ? `key ${keyId} has no record MAC (written by a Sigil release older than every writer must run, or the MAC was removed): refused`
        : `key ${keyId} failed record authentication: a field (status, scopes, principal, expiry, limits, replacement, metadata) was changed without the master key — a tampered row or backup; refused`,
    )
  }
}

/**
 * Throw {@link KeyRecordError} unless `mac` is the MAC of `r` (constant-time comparison).
 *
 * @example
 * ```ts
 * checkRecordMac(ring, row, row.mac)
 * ```
 */
export function checkRecordMac(ring: MasterKeyRing, r: RecordFields, mac: Uint8Array | undefined): void {
  if (!mac || mac.length === 0) throw new KeyRecordError(r.keyId, 'missing')
  const expected = recordMac(ring, r)
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw new KeyRecordError(r.keyId, 'mismatch')
}
