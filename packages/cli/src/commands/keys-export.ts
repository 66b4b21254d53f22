import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { resolve } from 'node:path'
import { exportKeys, importKeys } from '@sigil/keys'
import { onePositional, parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { storeLocation, withStore } from '../open-store.js'
import { progress } from '../progress.js'

const EXPORT_USAGE = 'sigil keys export FILE [--store PATH | --database-url URL [--database-schema S]]'
const IMPORT_USAGE = 'sigil keys import FILE [--dry-run] [--store PATH | --database-url URL [--database-schema S]]'

// Written in chunks of about this many bytes.
const FLUSH_BYTES = 1 << 20

/**
 * `sigil keys export FILE`: every key of the selected store (SQLite or PostgreSQL), secrets still
 * sealed under the master key, into an authenticated file (mode 0600). Written to FILE.partial
 * and renamed when complete, so an interrupted export never leaves a file that looks whole.
 */
export const keysExport: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, STORE_OPTIONS)
  const file = resolve(ctx.io.cwd, onePositional(positionals, 'an export file', EXPORT_USAGE))
  if (existsSync(file)) throw usageError(`${file} already exists; choose a new name`)
  const where = storeLocation(values, ctx.io)
  return withStore(
    values,
    ctx.io,
    async (store) => {
      if (!store) throw usageError(`no key store at ${(where as { path: string }).path} to export`)
      const partial = `${file}.partial`
      const fd = openSync(partial, 'w', 0o600)
      let buffered: string[] = []
      let size = 0
      const flush = () => {
        if (buffered.length) writeSync(fd, buffered.join(''))
        buffered = []
        size = 0
      }
      const bar = progress(ctx, 'exporting')
      try {
        const r = await exportKeys(
          store,
          (chunk) => {
            buffered.push(chunk)
            size += chunk.length
            if (size >= FLUSH_BYTES) flush()
          },
          { onProgress: (p) => bar.update(p.done) },
        )
        flush()
        fsyncSync(fd)
        closeSync(fd)
        renameSync(partial, file)
        bar.done()
        ctx.io.stdout.write(
          ctx.json
            ? toJson({ file, ...r })
            : `Exported ${r.keys} key(s) (${r.revoked} revoked) to ${file} (mode 0600; secrets sealed under master-key version(s) ${Object.keys(r.masterKeyVersions).join(', ') || '-'} — import needs the same master key).\n`,
        )
        return 0
      } catch (e) {
        try {
          closeSync(fd)
        } catch {
          // already closed
        }
        unlinkSync(partial)
        throw e
      }
    },
    true,
  )
}

/**
 * `sigil keys import FILE [--dry-run]`: the keys of an export into the selected store, tokens
 * unchanged. With `SIGIL_SOURCE_MASTER_KEY` (the exporting store's master key, when it differs)
 * secrets are re-sealed under `SIGIL_MASTER_KEY`. Run it again after an interruption: keys already
 * imported are skipped; a key present with other content is refused, never overwritten.
 */
export const keysImport: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { ...STORE_OPTIONS, 'dry-run': { type: 'boolean' } })
  const file = resolve(ctx.io.cwd, onePositional(positionals, 'an export file', IMPORT_USAGE))
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw usageError(`cannot read ${file}`)
  }
  const source = ctx.io.env.SIGIL_SOURCE_MASTER_KEY
  return withStore(values, ctx.io, async (store) => {
    const bar = progress(ctx, 'importing')
    const r = await importKeys(store!, text, {
      ...(source ? { sourceMasterKey: source } : {}),
      dryRun: values['dry-run'] === true,
      onProgress: (p) => bar.update(p.done, p.total),
    })
    bar.done()
    if (ctx.json) ctx.io.stdout.write(toJson({ file, ...r }))
    else {
      const verb = r.dryRun ? 'Would import' : 'Imported'
      ctx.io.stdout.write(
        `${verb} ${r.imported} key(s) of ${r.total} from ${file}; ${r.present} already present with the same content (skipped); ${r.revoked} revoked in the export stay revoked${
          r.resealed ? '; secrets re-sealed under SIGIL_MASTER_KEY' : ''
        }${r.dryRun ? ' (dry run: nothing written)' : ''}.\n`,
      )
    }
    return 0
  })
}
