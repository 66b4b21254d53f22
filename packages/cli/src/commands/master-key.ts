import { generateMasterKey } from '@sigil/keys'
import { parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { EXIT, usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { withStore } from '../open-store.js'
import { progress } from '../progress.js'

// Per-key failure lines printed before "… and N more": the rest are in --json.
const SHOWN_FAILURES = 20

/** `sigil master-key` subcommands and their usage lines (run.ts prints them for `--help`). */
export const MASTER_KEY_COMMANDS: Record<string, { summary: string; usage: string }> = {
  generate: { summary: 'print a new master key entry ("v2:<base64>")', usage: 'sigil master-key generate [--key-version v2]' },
  rotate: {
    summary: 're-encrypt every secret under the current version',
    usage: 'sigil master-key rotate [--batch-size 500] [--store PATH | --database-url URL [--database-schema S]]',
  },
}

/** Help text for `sigil master-key`. */
export const USAGE = `sigil master-key <command>

  generate [--key-version v2]   print a new master key entry ("v2:<base64>")
  rotate                        re-encrypt every secret under the current version

Rotation: put the new entry first and keep the old one, on every instance first,
  SIGIL_MASTER_KEY="v2:<new>,v1:<old>" sigil master-key rotate
then drop v1 from SIGIL_MASTER_KEY everywhere. Batched (--batch-size, default 500 rows
per transaction), with progress on stderr; interrupted, run it again: it continues.
`

/** `sigil master-key generate|rotate`. */
export const masterKey: Command = async (args, ctx) => {
  const [sub, ...rest] = args
  if (sub === 'generate') {
    const { values, positionals } = parseCommandArgs(rest, { 'key-version': { type: 'string' } })
    if (positionals.length) throw usageError('master-key generate takes no positional arguments')
    const entry = generateMasterKey(values['key-version'] ?? 'v1')
    ctx.io.stdout.write(ctx.json ? toJson({ masterKey: entry }) : `${entry}\n`)
    return 0
  }
  if (sub === 'rotate') {
    const { values, positionals } = parseCommandArgs(rest, { ...STORE_OPTIONS, 'batch-size': { type: 'string' } })
    if (positionals.length) throw usageError('master-key rotate takes no positional arguments')
    const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size'])
    if (batchSize !== undefined && !(Number.isSafeInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000)) {
      throw usageError('--batch-size is a whole number from 1 to 10000')
    }
    return withStore(values, ctx.io, async (store) => {
      const bar = progress(ctx, 're-encrypting')
      // Refused before anything is written (exit 78) when SIGIL_MASTER_KEY lacks a version rows
      // use: one line naming the version and how many keys use it.
      // `current` is the version label from the store, never parsed out of SIGIL_MASTER_KEY (a
      // bare key has no label: the text is the key itself).
      const { reencrypted, current, failed } = await store!.rotateMasterKey({
        ...(batchSize !== undefined ? { batchSize } : {}),
        onProgress: (p) => bar.update(p.done + p.failed, p.total, { failed: p.failed }),
      })
      bar.done()
      if (ctx.json) ctx.io.stdout.write(toJson({ reencrypted, current, failed }))
      else {
        ctx.io.stdout.write(`Re-encrypted ${reencrypted} secret(s) under master-key version ${current}.\n`)
        for (const f of failed.slice(0, SHOWN_FAILURES)) ctx.io.stderr.write(`cannot re-encrypt ${f.keyId}: ${f.reason}\n`)
        if (failed.length > SHOWN_FAILURES) ctx.io.stderr.write(`… and ${failed.length - SHOWN_FAILURES} more (--json lists them all)\n`)
        if (failed.length) {
          ctx.io.stderr.write(
            `${failed.length} key(s) are still under an old master-key version: revoke them (sigil keys revoke KEY_ID) or restore them from a backup, then run this again before retiring the old master key.\n`,
          )
        }
      }
      return failed.length ? EXIT.FAILURE : EXIT.OK
    })
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    ctx.io.stdout.write(USAGE)
    return 0
  }
  throw usageError(sub ? `unknown command: master-key ${sub}\n${USAGE}` : USAGE)
}
