import { usageError } from '../exit-codes.js'
import type { Command } from '../io.js'
import { keysBackup, keysRestore } from './keys-backup.js'
import { keysExport, keysImport } from './keys-export.js'
import { keysExpire, keysRevoke, keysRotate, keysScopes } from './keys-lifecycle.js'
import { keysMigrate, MIGRATE_USAGE } from './keys-migrate.js'
import { keysCreate, keysList, keysShow } from './keys-read.js'
import { KEYS_USAGE_COMMAND } from './usage.js'

/**
 * `sigil keys <subcommand>`. Add a subcommand by adding an entry (e.g. `usage` from
 * `@sigil/redis`); each parses its own flags and returns an exit code.
 *
 * @example
 * ```ts
 * KEYS_COMMANDS.usage = { summary: 'show usage of a key', run: keysUsage }
 * ```
 */
export const KEYS_COMMANDS: Record<string, { summary: string; usage: string; run: Command }> = {
  create: {
    summary: 'issue a key and print its token once',
    usage: 'sigil keys create --principal NAME [--scope S]... [--expires-in 90d | --expires-at ISO] [--test]',
    run: keysCreate,
  },
  list: {
    summary: 'list keys, a page at a time (ordered by key id)',
    usage: 'sigil keys list [--principal NAME] [--status active|revoked|expired] [--limit 100] [--after KEY_ID]',
    run: keysList,
  },
  show: { summary: 'show one key (never its secret)', usage: 'sigil keys show KEY_ID', run: keysShow },
  rotate: {
    summary: 'issue a replacement (same scopes and expiry); the old key works until the grace ends',
    usage: 'sigil keys rotate KEY_ID [--grace 24h] [--expires-in 90d]',
    run: keysRotate,
  },
  revoke: { summary: 'revoke a key now', usage: 'sigil keys revoke KEY_ID', run: keysRevoke },
  scopes: {
    summary: 'show or change scopes',
    usage: 'sigil keys scopes KEY_ID [--set a,b | --add S... | --remove S...]',
    run: keysScopes,
  },
  expire: { summary: 'set the expiry (default now)', usage: 'sigil keys expire KEY_ID [--at ISO | --in 1h]', run: keysExpire },
  usage: KEYS_USAGE_COMMAND,
  backup: {
    summary: 'copy the embedded store to a file, consistent while others write',
    usage: 'sigil keys backup FILE',
    run: keysBackup,
  },
  restore: {
    summary: 'replace the embedded store with a backup (master key must match)',
    usage: 'sigil keys restore FILE [--force] [--dry-run] [--resurrect KEY_ID]…',
    run: keysRestore,
  },
  migrate: {
    summary: 'bring the store to this release: schema, then rows of older formats (--check: report only; exit 1 if anything would change)',
    usage: MIGRATE_USAGE,
    run: keysMigrate,
  },
  export: {
    summary: 'write every key (sealed, revoked ones too) to an authenticated file, from any store',
    usage: 'sigil keys export FILE',
    run: keysExport,
  },
  import: {
    summary: 'add the keys of an export to any store, tokens unchanged (resumable; never overwrites)',
    usage: "sigil keys import FILE [--dry-run]   (SIGIL_SOURCE_MASTER_KEY: the exporter's master key, if different)",
    run: keysImport,
  },
}

/** Help text for `sigil keys`. */
export function keysHelp(): string {
  const lines = Object.entries(KEYS_COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}\n      ${c.usage}`)
  return `sigil keys <command> [--store PATH | --database-url URL [--database-schema S]] [--json]\n\n${lines.join('\n')}\n`
}

/** Dispatch `sigil keys …`. */
export const keys: Command = async (args, ctx) => {
  const [sub, ...rest] = args
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    ctx.io.stdout.write(keysHelp())
    return sub ? 0 : 64
  }
  const cmd = KEYS_COMMANDS[sub]
  if (!cmd) throw usageError(`unknown command: keys ${sub}\n${keysHelp()}`)
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.io.stdout.write(`usage: ${cmd.usage}\n`)
    return 0
  }
  return cmd.run(rest, ctx)
}
