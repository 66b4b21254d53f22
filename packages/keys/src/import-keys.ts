import { timingSafeEqual } from 'node:crypto'
import { ConfigurationError, SigilError } from '@sigil/core'
import { checkOptions, fromBase64, optionNames } from '@sigil/core/internal'
import { emitKeyChange } from './backed-key-store.js'
import { exportMacMatches, KeyExportError, parseExport, ringKey } from './export-format.js'
import { storeRows } from './export-keys.js'
import type { KeyBackend, StoredKey } from './key-backend.js'
import type { EncryptedKeyStore } from './key-store.js'
import { type MasterKeyInput, type MasterKeyRing, parseMasterKey } from './master-key.js'
import { checkRecordMac, recordMac, recordMacInput } from './record-mac.js'
import { openSecret, sealSecret } from './secret-box.js'

/** Options of {@link importKeys}. */
export interface ImportKeysOptions {
  /**
   * The exporting store's master key, when it differs from this store's: each secret is then
   * opened with it in memory and sealed anew under this store's current version (and its record
   * MAC written anew). Without it, this store's master key must hold every version the export
   * uses, with the same keys, and rows are copied as they are (never decrypted).
   */
  sourceMasterKey?: MasterKeyInput
  /** Check everything and count, write nothing. */
  dryRun?: boolean
  /** Rows read or written at once (PostgreSQL). Default 8. */
  concurrency?: number
  /** Called as rows are written. */
  onProgress?: (progress: { done: number; total: number }) => void
}

/** What {@link importKeys} did. */
export interface KeyImportResult {
  /** Rows in the export. */
  total: number
  /** Rows written by this call (would be written, with `dryRun`). */
  imported: number
  /** Rows already in the store with the same content (an earlier, interrupted run): skipped. */
  present: number
  /** Revoked rows in the export: imported or present, revoked either way. */
  revoked: number
  /** True when secrets were re-sealed under this store's master key (`sourceMasterKey`). */
  resealed: boolean
  dryRun: boolean
}

const OPTION_NAMES = optionNames<ImportKeysOptions>({ sourceMasterKey: true, dryRun: true, concurrency: true, onProgress: true })

// Rows of the target read per query when looking for keys already there.
const PAGE = 1000
// Rows inserted per transaction (one statement on PostgreSQL).
const BATCH = 500

/** Run `fn` over `items`, `n` at a time, in order of start. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
}

// The authorization fields of a row, whatever master-key version its secret is under.
const fieldsOf = (r: StoredKey) => recordMacInput({ ...r, sealed: { version: '' } })

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b)

/**
 * Check the export against the master keys before anything is read or written: its check values
 * prove the keys are the exporter's (same version, same bytes), its MAC that no byte changed,
 * and every row's record MAC that its fields are as the exporter stored them.
 */
function authenticate(text: string, source: MasterKeyRing, hint: string) {
  const file = parseExport(text)
  const used = new Map<string, number>()
  for (const r of file.rows) used.set(r.sealed.version, (used.get(r.sealed.version) ?? 0) + 1)
  for (const v of new Set([file.header.macVersion, ...used.keys()])) {
    const n = used.get(v) ?? 0
    const check = file.header.checks[v]
    if (!source.keys.has(v)) {
      throw new KeyExportError(
        `the export is sealed under master-key version ${v} (${n} key(s)), which ${hint} does not hold: add the exporter's ${v} key, or set the exporter's master key as the source; nothing was written`,
      )
    }
    const data = check === undefined ? undefined : fromBase64(check)
    try {
      if (!data) throw new Error('no check value')
      openSecret(source, '#master-key-check', { version: v, data })
    } catch {
      throw new KeyExportError(
        `master-key version ${v} of ${hint} is not the key the export was made with (${n} key(s) under it): use the exporter's master key as the source; nothing was written`,
      )
    }
  }
  const key = ringKey(source, file.header.macVersion, 'the export is authenticated under')
  if (!exportMacMatches(key, file.body, file.count, file.mac)) {
    throw new KeyExportError(
      'the export failed authentication: it was changed after it was written (tampered or corrupted); nothing was written',
    )
  }
  for (const r of file.rows) checkRecordMac(source, r, r.mac)
  return { file, used }
}

/**
 * Import a Sigil key export (see {@link exportKeys}) into a store of any kind: every key with its
 * id, principal, scopes, status, dates and sealed secret, so tokens issued by the exporting store
 * keep verifying; revoked keys stay revoked. Nothing is written unless the whole file
 * authenticates (check values, file MAC, every row's record MAC) and no key id it holds is in
 * the store with different content — such a key is never overwritten (a `KEY_CONFLICT` naming
 * it). Resumable: a key already present with the same content is skipped, so running the same
 * import again after an interruption finishes it. Each written key gets a `key.import` audit event.
 *
 * @example
 * ```ts
 * const r = await importKeys(target, readFileSync('keys.export', 'utf8'))
 * console.log(`${r.imported} imported, ${r.present} already there`)
 * ```
 */
export async function importKeys(store: EncryptedKeyStore, text: string, options: ImportKeysOptions = {}): Promise<KeyImportResult> {
  checkOptions('import options', options, OPTION_NAMES)
  const concurrency = options.concurrency ?? 8
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new ConfigurationError('concurrency must be an integer from 1 to 64')
  }
  const { backend, ring, actor, now } = storeRows(store, 'importKeys')
  const reseal = options.sourceMasterKey !== undefined
  const source = reseal ? parseMasterKey(options.sourceMasterKey) : ring
  const { file } = authenticate(text, source, reseal ? 'the source master key' : "this store's SIGIL_MASTER_KEY")
  const dryRun = options.dryRun === true

  // The row as this store keeps it: as exported, or re-sealed under this store's current version.
  const target = (r: StoredKey): StoredKey => {
    if (!reseal) return r
    const sealed = sealSecret(ring, r.keyId, openSecret(source, r.keyId, r.sealed))
    return { ...r, sealed, mac: recordMac(ring, { ...r, sealed }) }
  }
  // Same content: the same authorization fields and the same secret (compared opened when the
  // two are sealed differently). Row version and updatedAt are bookkeeping, not content.
  const same = (existing: StoredKey, incoming: StoredKey): boolean => {
    try {
      checkRecordMac(ring, existing, existing.mac)
    } catch {
      return false
    }
    if (fieldsOf(existing) !== fieldsOf(incoming)) return false
    if (existing.sealed.version === incoming.sealed.version && bytesEqual(existing.sealed.data, incoming.sealed.data)) return true
    return bytesEqual(openSecret(ring, existing.keyId, existing.sealed), openSecret(source, incoming.keyId, incoming.sealed))
  }

  // First pass: which keys are there already; any that differs refuses the whole import.
  const absent: StoredKey[] = []
  const conflicts: string[] = []
  let present = 0
  // One walk of the store by key id, a page per query, keeping only the ids the export holds:
  // far fewer round trips than a read per key, and memory bounded by the export.
  const incoming = new Map(file.rows.map((r) => [r.keyId, r]))
  const found = new Set<string>()
  let after: string | undefined
  for (;;) {
    const page = await backend.list({ now: now(), limit: PAGE, ...(after !== undefined ? { after } : {}) })
    for (const existing of page) {
      const r = incoming.get(existing.keyId)
      if (!r) continue
      found.add(r.keyId)
      if (same(existing, r)) present++
      else conflicts.push(r.keyId)
    }
    if (page.length < PAGE) break
    after = page[page.length - 1]?.keyId
  }
  for (const r of file.rows) if (!found.has(r.keyId)) absent.push(r)
  if (conflicts.length > 0) throw conflictError(conflicts.sort())
  const revoked = file.rows.filter((r) => r.status === 'revoked').length
  if (dryRun) return { total: file.count, imported: absent.length, present, revoked, resealed: reseal, dryRun }

  absent.sort((a, b) => (a.keyId < b.keyId ? -1 : 1))
  let imported = 0
  const eventOf = (r: StoredKey, row: StoredKey, at: Date) => ({
    at,
    actor,
    action: 'key.import',
    keyId: r.keyId,
    principal: r.principal,
    detail: { status: r.status, masterKeyVersion: row.sealed.version, exportedAt: file.header.createdAt },
  })
  const one = async (r: StoredKey) => {
    const row = target(r)
    const at = now()
    if (!(await insertOnce(backend, row, eventOf(r, row, at), (existing) => same(existing, r)))) {
      throw conflictError([r.keyId], true)
    }
    imported++
    emitKeyChange(store, { type: 'updated', keyId: r.keyId, at })
  }
  // Batches of rows, each all or none; a batch that fails (a key id taken meanwhile by another
  // writer) is done again row by row, each row checked against what took its id.
  const insertMany = backend.insertMany?.bind(backend)
  for (let i = 0; i < absent.length; i += BATCH) {
    const chunk = absent.slice(i, i + BATCH)
    let batched = false
    if (insertMany) {
      const at = now()
      const rows = chunk.map((r) => ({ r, row: target(r) }))
      try {
        await insertMany(rows.map(({ r, row }) => ({ row, event: eventOf(r, row, at) })))
        batched = true
      } catch {
        // fall through to one at a time
      }
      if (batched) {
        imported += chunk.length
        for (const r of chunk) emitKeyChange(store, { type: 'updated', keyId: r.keyId, at })
      }
    }
    if (!batched) await pool(chunk, concurrency, one)
    options.onProgress?.({ done: present + imported, total: file.count })
  }
  if (absent.length === 0) options.onProgress?.({ done: present, total: file.count })
  return { total: file.count, imported, present: present, revoked, resealed: reseal, dryRun }
}

/**
 * Insert, or, when the id was taken meanwhile (a concurrent import), accept the row there only
 * if it has the same content. False: a different row holds the id.
 */
async function insertOnce(
  backend: KeyBackend,
  row: StoredKey,
  event: Parameters<KeyBackend['insert']>[1],
  same: (existing: StoredKey) => boolean,
): Promise<boolean> {
  try {
    await backend.insert(row, event)
    return true
  } catch (e) {
    const existing = await backend.read(row.keyId)
    if (!existing) throw e
    return same(existing)
  }
}

function conflictError(keyIds: string[], racing = false): SigilError {
  const shown = keyIds.slice(0, 5).join(', ')
  const more = keyIds.length > 5 ? ` and ${keyIds.length - 5} more` : ''
  return new SigilError(
    'KEY_CONFLICT',
    `${keyIds.length} key(s) of the export are already in this store with different content (status, fields or secret): ${shown}${more}. An existing key is never overwritten (a revoked key stays revoked); ${
      racing
        ? 'another writer created it during this import: the keys before it were imported, run again to see the rest'
        : 'nothing was written'
    }`,
  )
}
