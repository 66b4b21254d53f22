import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { ConfigurationError } from '@sigil/core'
import { fromBase64, toBase64 } from '@sigil/core/internal'
import { z } from 'zod'
import type { StoredKey } from './key-backend.js'
import type { MasterKeyRing } from './master-key.js'

/** `format` of an export file's first line. */
export const KEY_EXPORT_FORMAT = 'sigil-keys-export'

const INFO = 'sigil/keys-export/v1'

/** First line of an export file. */
export interface KeyExportHeader {
  format: typeof KEY_EXPORT_FORMAT
  formatVersion: 1
  createdAt: string
  /** Master-key version whose derived key MACs the file (the exporter's current version). */
  macVersion: string
  /** A check value per master-key version of the exporter (see `checkMasterKeys`), base64. */
  checks: Record<string, string>
}

/** Why an export file is refused: malformed, tampered, truncated, or under another master key. */
export class KeyExportError extends ConfigurationError {}

/**
 * HMAC-SHA256 of an export's text (every line before the end line, newlines included) and its row
 * count, under a key derived (HKDF, its own label) from the master key of `macVersion`: a file
 * with any byte changed, a row added, removed or reordered, or cut short, fails. Fed line by line.
 */
export function createExportMac(key: Uint8Array): { update(text: string): void; digest(count: number): Uint8Array } {
  const h = createHmac('sha256', Buffer.from(hkdfSync('sha256', key, new Uint8Array(0), INFO, 32)))
  return {
    update: (text) => void h.update(text),
    digest: (count) => {
      const d = h.update(`\nend ${count}`).digest()
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
    },
  }
}

/** Constant-time check of an export's MAC (see {@link createExportMac}). */
export function exportMacMatches(key: Uint8Array, body: string, count: number, mac: Uint8Array): boolean {
  const m = createExportMac(key)
  m.update(body)
  const expected = m.digest(count)
  return mac.length === expected.length && timingSafeEqual(mac, expected)
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : undefined)

/** One key row as a line of the export: every stored field, the secret still sealed. */
export function rowToLine(r: StoredKey): string {
  return JSON.stringify({
    keyId: r.keyId,
    principal: r.principal,
    scopes: r.scopes,
    status: r.status,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    version: r.version,
    expiresAt: iso(r.expiresAt),
    notAfter: iso(r.notAfter),
    revokedAt: iso(r.revokedAt),
    replacedBy: r.replacedBy,
    rateLimits: r.rateLimits,
    metadata: r.metadata,
    test: r.test,
    sealed: { version: r.sealed.version, data: toBase64(r.sealed.data) },
    mac: r.mac ? toBase64(r.mac) : undefined,
  })
}

const b64 = z.string().transform((s, ctx) => {
  const b = fromBase64(s)
  if (!b) {
    ctx.addIssue({ code: 'custom', message: 'not base64' })
    return z.NEVER
  }
  return b
})
const date = z.iso.datetime().transform((s) => new Date(s))

const rowSchema = z
  .object({
    keyId: z.string().min(1).max(256),
    principal: z.string().min(1).max(256),
    scopes: z.array(z.string()),
    status: z.enum(['active', 'revoked']),
    createdAt: date,
    updatedAt: date,
    version: z.number().int().min(0),
    expiresAt: date.optional(),
    notAfter: date.optional(),
    revokedAt: date.optional(),
    replacedBy: z.string().min(1).max(256).optional(),
    rateLimits: z.record(z.string(), z.unknown()).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    test: z.literal(true).optional(),
    sealed: z.object({ version: z.string().min(1).max(32), data: b64 }).strict(),
    mac: b64,
  })
  .strict()

/** A row line back to a stored row; a line of any other shape is a {@link KeyExportError}. */
export function lineToRow(line: string, n: number): StoredKey {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    throw new KeyExportError(`export line ${n} is not JSON: refused`)
  }
  const r = rowSchema.safeParse(parsed)
  if (!r.success) throw new KeyExportError(`export line ${n} is not a key row (${r.error.issues[0]?.path.join('.')}): refused`)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r.data)) if (v !== undefined) out[k] = v
  return out as unknown as StoredKey
}

const headerSchema = z
  .object({
    format: z.literal(KEY_EXPORT_FORMAT),
    formatVersion: z.literal(1),
    createdAt: z.string(),
    macVersion: z.string().min(1).max(32),
    checks: z.record(z.string().min(1).max(32), z.string()),
  })
  .strict()
const trailerSchema = z.object({ end: z.literal(true), count: z.number().int().min(0), mac: b64 }).strict()

/** An export file split and shape-checked (not yet authenticated: see `importKeys`). */
export interface ParsedExport {
  header: KeyExportHeader
  /** The text the MAC covers: every line before the trailer, with its newline. */
  body: string
  rows: StoredKey[]
  count: number
  mac: Uint8Array
}

/** Split an export file into header, rows and trailer; refuses anything malformed or cut short. */
export function parseExport(text: string): ParsedExport {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const json = (line: string | undefined, what: string) => {
    try {
      return JSON.parse(line ?? '')
    } catch {
      throw new KeyExportError(`not a Sigil key export (${what} is not JSON): refused`)
    }
  }
  const header = headerSchema.safeParse(json(lines[0], 'the first line'))
  if (!header.success) throw new KeyExportError('not a Sigil key export (no sigil-keys-export header): refused')
  const trailer = trailerSchema.safeParse(json(lines[lines.length - 1], 'the last line'))
  if (lines.length < 2 || !trailer.success) {
    throw new KeyExportError('the export is incomplete (no end line: interrupted or cut short): refused')
  }
  const rowLines = lines.slice(1, -1)
  if (rowLines.length !== trailer.data.count) {
    throw new KeyExportError(`the export holds ${rowLines.length} row(s), its end line says ${trailer.data.count}: refused`)
  }
  const body = `${lines.slice(0, -1).join('\n')}\n`
  return {
    header: header.data as KeyExportHeader,
    body,
    rows: rowLines.map((l, i) => lineToRow(l, i + 2)),
    count: trailer.data.count,
    mac: trailer.data.mac,
  }
}

/** The key of `version` in `ring`, or a {@link KeyExportError} naming the version. */
export function ringKey(ring: MasterKeyRing, version: string, what: string): Uint8Array {
  const k = ring.keys.get(version)
  if (!k) throw new KeyExportError(`${what} master-key version ${version}, which is not configured: refused`)
  return k
}
