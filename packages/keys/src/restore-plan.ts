import type { StoredKey } from './key-backend.js'
import type { MasterKeyRing } from './master-key.js'
import { checkRecordMac, KeyRecordError, recordMac } from './record-mac.js'

/** Why a key of the store ended after the backup was taken: what a restore keeps unless told otherwise. */
export type KeyEnding = 'revoked' | 'rotated' | 'expired'

/**
 * What a restore does to the store, key by key, shown before (or instead of, `dryRun`) writing.
 * Key ids only, never secrets.
 */
export interface RestoreDiff {
  /** In the backup and not in the store: they come back. */
  added: string[]
  /** In the store and not in the backup (created after it): they are gone after the restore. */
  removed: string[]
  /**
   * Ended in the store after the backup (revoked, rotated away, expiry brought forward) but live
   * in the backup: the restore keeps the ending (a tombstone), unless the key id is in `resurrect`.
   */
  kept: Array<{ keyId: string; ending: KeyEnding[] }>
  /** Ended in the store, live in the backup, and brought back because `resurrect` named them. */
  resurrected: Array<{ keyId: string; ending: KeyEnding[] }>
  /** Other fields (scopes, limits, metadata, expiry pushed later…) go back to the backup's. */
  changed: Array<{ keyId: string; fields: string[] }>
}

/** The rows to write and what they change. */
export interface RestorePlan {
  rows: StoredKey[]
  diff: RestoreDiff
}

const t = (d: Date | undefined) => (d ? d.getTime() : undefined)
const earlier = (a: Date | undefined, b: Date | undefined) => a !== undefined && (b === undefined || a.getTime() < b.getTime())
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

/**
 * Refuse a backup with any row that fails its record MAC (or has none) before anything is
 * written, naming up to 10 key ids. The backup's rows are authenticated under `ring` exactly as a
 * read would: a backup edited without the master key cannot be restored.
 */
export function checkBackupRows(ring: MasterKeyRing, rows: readonly StoredKey[]): void {
  const bad: string[] = []
  for (const r of rows) {
    try {
      checkRecordMac(ring, r, r.mac)
    } catch {
      bad.push(r.keyId) // no MAC, a wrong one, or a master-key version this ring does not have
    }
  }
  if (bad.length > 0) {
    throw new KeyRecordBackupError(bad)
  }
}

/** A backup refused because rows failed record authentication; `keyIds` lists them. */
export class KeyRecordBackupError extends KeyRecordError {
  constructor(readonly keyIds: string[]) {
    super(keyIds[0] as string, 'mismatch')
    this.message = `the backup has ${keyIds.length} key record(s) that fail authentication under SIGIL_MASTER_KEY (edited without the master key, or written by an older release): ${keyIds.slice(0, 10).join(', ')}${keyIds.length > 10 ? ', …' : ''}. Nothing was written.`
  }
}

/**
 * Merge a backup into the store's current rows: the backup's rows win, except that an ending
 * recorded in the store after the backup (revocation, rotation's end, an earlier expiry) is kept
 * on the restored row unless its key id is in `resurrect`. Merged rows get a new record MAC and a
 * row version above both, so a compare-and-set from before the restore fails instead of landing.
 */
export function planRestore(
  ring: MasterKeyRing,
  current: readonly StoredKey[],
  backup: readonly StoredKey[],
  resurrect: ReadonlySet<string> = new Set(),
): RestorePlan {
  const now = new Map(current.map((r) => [r.keyId, r]))
  const inBackup = new Set(backup.map((r) => r.keyId))
  const diff: RestoreDiff = {
    added: [],
    removed: current.filter((r) => !inBackup.has(r.keyId)).map((r) => r.keyId),
    kept: [],
    resurrected: [],
    changed: [],
  }
  const rows: StoredKey[] = []
  for (const b of backup) {
    const c = now.get(b.keyId)
    if (!c) {
      diff.added.push(b.keyId)
      rows.push(b)
      continue
    }
    const ending: KeyEnding[] = []
    const merged: StoredKey = { ...b }
    if (c.status === 'revoked' && b.status !== 'revoked') {
      ending.push('revoked')
      merged.status = 'revoked'
      merged.revokedAt = c.revokedAt ?? c.updatedAt
    }
    if (earlier(c.notAfter, b.notAfter)) {
      ending.push('rotated')
      merged.notAfter = c.notAfter as Date
      if (c.replacedBy) merged.replacedBy = c.replacedBy
    }
    if (earlier(c.expiresAt, b.expiresAt)) {
      ending.push('expired')
      merged.expiresAt = c.expiresAt as Date
    }
    const fields = (['principal', 'scopes', 'rateLimits', 'metadata', 'expiresAt', 'notAfter', 'replacedBy', 'status'] as const).filter(
      (f) => !same(f === 'expiresAt' || f === 'notAfter' ? t(b[f]) : b[f], f === 'expiresAt' || f === 'notAfter' ? t(c[f]) : c[f]),
    )
    const version = Math.max(b.version, c.version) + 1
    if (ending.length > 0 && !resurrect.has(b.keyId)) {
      diff.kept.push({ keyId: b.keyId, ending })
      rows.push({ ...merged, version, mac: recordMac(ring, merged) })
      continue
    }
    if (ending.length > 0) diff.resurrected.push({ keyId: b.keyId, ending })
    else if (fields.length > 0) diff.changed.push({ keyId: b.keyId, fields })
    rows.push({ ...b, version: ending.length > 0 || fields.length > 0 ? version : Math.max(b.version, c.version) })
  }
  return { rows, diff }
}

/** Every key id a restore touched: what caches and fan-out must drop. */
export function restoredKeyIds(diff: RestoreDiff): string[] {
  return [
    ...diff.added,
    ...diff.removed,
    ...diff.kept.map((k) => k.keyId),
    ...diff.resurrected.map((k) => k.keyId),
    ...diff.changed.map((k) => k.keyId),
  ]
}
