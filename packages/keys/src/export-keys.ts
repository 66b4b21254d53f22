import { ConfigurationError } from '@sigil/core'
import { checkOptions, optionNames, toBase64 } from '@sigil/core/internal'
import { backedStoreInternals } from './backed-key-store.js'
import { createExportMac, KEY_EXPORT_FORMAT, type KeyExportHeader, rowToLine } from './export-format.js'
import type { KeyBackend } from './key-backend.js'
import type { EncryptedKeyStore } from './key-store.js'
import type { MasterKeyRing } from './master-key.js'
import { checkMasterKeys } from './master-key-check.js'
import { checkRecordMac } from './record-mac.js'

/** Options of {@link exportKeys}. */
export interface ExportKeysOptions {
  /** Rows read per query. Default 1000. */
  pageSize?: number
  /** Called after every page with the rows written so far. */
  onProgress?: (progress: { done: number }) => void
}

/** What {@link exportKeys} wrote. */
export interface KeyExportResult {
  /** Rows written (every key: active, expired, revoked and rotated away). */
  keys: number
  /** Of those, revoked (tombstones: they stay revoked wherever the file is imported). */
  revoked: number
  /** Master-key versions the secrets are sealed under, with their row counts. */
  masterKeyVersions: Record<string, number>
}

const OPTION_NAMES = optionNames<ExportKeysOptions>({ pageSize: true, onProgress: true })

/** The backend and master key under a store, or a `ConfigurationError` for a store of another kind. */
export function storeRows(
  store: EncryptedKeyStore,
  what: string,
): { backend: KeyBackend; ring: MasterKeyRing; actor: string; now: () => Date } {
  const i = backedStoreInternals(store)
  if (!i) throw new ConfigurationError(`${what} needs a store from createSqliteKeyStore, createPostgresKeyStore or createBackedKeyStore`)
  if (!i.ring) throw new ConfigurationError(`${what} needs a store with a master key (secrets are moved sealed under it)`)
  return { backend: i.backend, ring: i.ring, actor: i.actor, now: i.now }
}

/**
 * Write every key of a store as a Sigil key export: newline-delimited JSON — a header with a
 * check value per master-key version, one line per key row exactly as stored (the secret still
 * sealed under the master key, its record MAC, revoked keys included), and an end line with the
 * row count and an HMAC of the whole file under a key derived from the current master key.
 * Secrets are never decrypted. Every row's record MAC is checked first: a tampered row is refused,
 * not exported. Rows are read a page at a time by key id; export while no one writes (a row
 * changed during the export is exported as it was when its page was read).
 *
 * @example
 * ```ts
 * const out = createWriteStream('keys.export', { mode: 0o600 })
 * const r = await exportKeys(store, (line) => void out.write(line))
 * ```
 */
export async function exportKeys(
  store: EncryptedKeyStore,
  write: (chunk: string) => void | Promise<void>,
  options: ExportKeysOptions = {},
): Promise<KeyExportResult> {
  checkOptions('export options', options, OPTION_NAMES)
  const pageSize = options.pageSize ?? 1000
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 10_000) {
    throw new ConfigurationError('pageSize must be an integer from 1 to 10000')
  }
  const { backend, ring, now } = storeRows(store, 'exportKeys')
  // Fresh check values for every configured version: the importer proves it holds the same keys.
  const checks: Record<string, string> = {}
  for (const c of checkMasterKeys(ring, { checks: new Map(), sample: () => undefined })) checks[c.version] = toBase64(c.data)
  const header: KeyExportHeader = {
    format: KEY_EXPORT_FORMAT,
    formatVersion: 1,
    createdAt: now().toISOString(),
    macVersion: ring.current,
    checks,
  }
  const mac = createExportMac(ring.keys.get(ring.current) as Uint8Array)
  const emit = async (line: string) => {
    const text = `${line}\n`
    mac.update(text)
    await write(text)
  }
  await emit(JSON.stringify(header))
  let keys = 0
  let revoked = 0
  const versions: Record<string, number> = {}
  let after: string | undefined
  for (;;) {
    const rows = await backend.list({ now: now(), limit: pageSize, ...(after !== undefined ? { after } : {}) })
    if (rows.length === 0) break
    for (const row of rows) {
      checkRecordMac(ring, row, row.mac)
      await emit(rowToLine(row))
      keys++
      if (row.status === 'revoked') revoked++
      versions[row.sealed.version] = (versions[row.sealed.version] ?? 0) + 1
    }
    after = rows[rows.length - 1]?.keyId
    options.onProgress?.({ done: keys })
    if (rows.length < pageSize) break
  }
  await write(`${JSON.stringify({ end: true, count: keys, mac: toBase64(mac.digest(keys)) })}\n`)
  return { keys, revoked, masterKeyVersions: versions }
}
