import { rateLimitsProblem } from '@sigil/core/internal'
import type { StoredKey } from './key-backend.js'

/**
 * Format of the key rows this release writes, stored with each row (`format` column):
 * 1 — rate limits in seconds (`rate.windowSeconds`, `quota.periodSeconds`), releases up to commit
 *     608ae8c, before "One vocabulary, part 2" (a7f1a11) renamed them;
 * 2 — rate limits in milliseconds (`rate.windowMs`, `quota.periodMs`).
 * A row without a format (written before the column existed) is read by its content. Older
 * formats are converted on every read (so a read-only replica serves them), persisted by the next
 * write of the row and by `sigil keys migrate` (`migrateKeyRows`).
 */
export const KEY_ROW_FORMAT = 2

/** One field a conversion changes: `rateLimits.rate.windowSeconds` 60 → `rateLimits.rate.windowMs` 60000. */
export interface RowFieldChange {
  field: string
  from: unknown
  to: unknown
}

/** A row as this release reads it; `problem` names a field that no conversion makes usable. */
export interface UpgradedRow {
  row: StoredKey
  changes: RowFieldChange[]
  problem?: { field: string; reason: string }
}

const RENAMED = [
  ['rate', 'windowSeconds', 'windowMs'],
  ['quota', 'periodSeconds', 'periodMs'],
] as const

function upgradeLimits(limits: unknown, changes: RowFieldChange[]): unknown {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) return limits
  let out: Record<string, unknown> | undefined
  for (const [part, old, next] of RENAMED) {
    const v = (limits as Record<string, unknown>)[part]
    if (typeof v !== 'object' || v === null || !(old in v) || next in v) continue
    const seconds = (v as Record<string, unknown>)[old]
    // Only a duration: anything else stays as it is and is reported, never guessed at.
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) continue
    const { [old]: _, ...rest } = v as Record<string, unknown>
    out ??= { ...(limits as Record<string, unknown>) }
    out[part] = { ...rest, [next]: seconds * 1000 }
    changes.push({ field: `rateLimits.${part}.${old}`, from: seconds, to: { [`rateLimits.${part}.${next}`]: seconds * 1000 } })
  }
  return out ?? limits
}

/**
 * The row in this release's format. Pure: the caller has checked the row's record MAC over the
 * fields as stored (an old row authenticates as written; a tampered one fails before this), and
 * MACs the converted fields when it writes them. A row already at {@link KEY_ROW_FORMAT} is
 * returned as it is, without a look (the hot path).
 *
 * @example
 * ```ts
 * const { row: current, changes, problem } = upgradeKeyRow(row)
 * ```
 */
export function upgradeKeyRow(row: StoredKey): UpgradedRow {
  if (row.format === KEY_ROW_FORMAT) return { row, changes: [] }
  const changes: RowFieldChange[] = []
  let next = row
  if (row.rateLimits !== undefined) {
    const limits = upgradeLimits(row.rateLimits, changes)
    if (limits !== row.rateLimits) next = { ...row, rateLimits: limits as StoredKey['rateLimits'] }
  }
  const bad = rateLimitsProblem(next.rateLimits)
  if (bad) return { row: next, changes, problem: { field: bad.field ? `rateLimits.${bad.field}` : 'rateLimits', reason: bad.reason } }
  if (row.format !== undefined && row.format > KEY_ROW_FORMAT)
    return {
      row: next,
      changes,
      problem: { field: 'format', reason: `is ${row.format}, written by a newer release (this one reads up to ${KEY_ROW_FORMAT})` },
    }
  return { row: next, changes }
}
