/**
 * The key-liveness rule of `@sigil/core`'s `keyStatusAt`, as one SQL predicate for both backends:
 * a row is live at `at` when it is active and neither its expiry nor its rotation grace has
 * passed. `at` is the parameter holding the instant (`$2` in PostgreSQL, `?` in SQLite: SQLite
 * binds a `?` per occurrence, so the caller passes the instant {@link LIVE_AT_PARAMS} times).
 */
function unexpiredSql(at: string): string {
  return `(expires_at IS NULL OR expires_at > ${at}) AND (not_after IS NULL OR not_after > ${at})`
}

/** Active and unexpired at `at` (see {@link unexpiredSql}). */
export function liveSql(at: string): string {
  return `status = 'active' AND ${unexpiredSql(at)}`
}

/** Active in storage but past its expiry or grace at `at`: what `keyStatusAt` calls expired. */
export function expiredSql(at: string): string {
  return `status = 'active' AND NOT (${unexpiredSql(at)})`
}

/** How many times the instant occurs in {@link liveSql} (a `?` per occurrence in SQLite). */
export const LIVE_AT_PARAMS = 2
