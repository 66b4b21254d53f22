import type { KeyInfo } from '@sigil/keys'

/** JSON for `--json`: dates as ISO strings, bytes never included. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? undefined : v), 2)}\n`
}

const iso = (d: Date | undefined) => (d ? d.toISOString().replace('.000Z', 'Z') : '')

/** A key as a plain JSON object. */
export function keyJson(k: KeyInfo): Record<string, unknown> {
  return {
    keyId: k.keyId,
    principal: k.principal,
    status: k.status,
    scopes: [...k.scopes],
    createdAt: iso(k.createdAt),
    expiresAt: k.expiresAt ? iso(k.expiresAt) : null,
    notAfter: k.notAfter ? iso(k.notAfter) : null,
    revokedAt: k.revokedAt ? iso(k.revokedAt) : null,
    replacedBy: k.replacedBy ?? null,
    masterKeyVersion: k.masterKeyVersion ?? null,
    ...(k.rateLimits ? { rateLimits: k.rateLimits } : {}),
    ...(k.metadata ? { metadata: k.metadata } : {}),
    ...(k.test ? { test: true } : {}),
  }
}

/** Left-aligned columns with a header row. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`
}

/** The list view of keys. */
export function keysTable(keys: KeyInfo[]): string {
  if (keys.length === 0) return 'No keys.\n'
  return table(
    ['KEY ID', 'PRINCIPAL', 'STATUS', 'SCOPES', 'CREATED', 'ENDS'],
    keys.map((k) => [
      k.keyId,
      k.principal,
      k.status,
      k.scopes.join(',') || '-',
      iso(k.createdAt),
      iso([k.expiresAt, k.notAfter].filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime())[0]) || '-',
    ]),
  )
}

/** The detail view of one key. */
export function keyDetails(k: KeyInfo): string {
  const rows: Array<[string, string]> = [
    ['Key ID', k.keyId],
    ['Principal', k.principal],
    ['Status', k.status],
    ['Scopes', k.scopes.join(', ') || '(none)'],
    ['Created', iso(k.createdAt)],
    ['Expires', iso(k.expiresAt) || 'never'],
  ]
  if (k.notAfter) rows.push(['Grace ends', iso(k.notAfter)])
  if (k.replacedBy) rows.push(['Replaced by', k.replacedBy])
  if (k.revokedAt) rows.push(['Revoked', iso(k.revokedAt)])
  if (k.masterKeyVersion) rows.push(['Master key', k.masterKeyVersion])
  if (k.rateLimits) rows.push(['Rate limits', JSON.stringify(k.rateLimits)])
  if (k.metadata) rows.push(['Metadata', JSON.stringify(k.metadata)])
  return `${rows.map(([a, b]) => `${`${a}:`.padEnd(13)}${b}`).join('\n')}\n`
}

/**
 * Parse `90d`, `24h`, `15m`, `30s`, `500ms` or `0` into milliseconds; undefined if malformed. Every
 * duration flag of the CLI goes through this one function.
 */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s.trim())
  if (!m) return undefined
  const n = Number(m[1])
  if (!m[2]) return n === 0 ? 0 : undefined
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  kB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
}

/**
 * Parse a size flag into bytes: a whole number of bytes (`1048576`) or one with a unit — `B`,
 * `KiB`, `MiB`, `GiB` (1024-based) or `kB`, `MB`, `GB` (1000-based): `10MiB`, `512KiB`, `2MB`.
 * Undefined if malformed or not a safe integer. Every size flag of the CLI goes through it.
 */
export function parseSize(s: string): number | undefined {
  const m = /^(0|[1-9][0-9]{0,15})(B|KiB|MiB|GiB|kB|MB|GB)?$/.exec(s.trim())
  if (!m) return undefined
  const n = Number(m[1]) * (SIZE_UNITS[m[2] ?? 'B'] as number)
  return Number.isSafeInteger(n) ? n : undefined
}
