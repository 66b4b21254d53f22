import type { KeyStoreMigrationReport } from '@sigil/keys/sqlite'
import { parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { EXIT, usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { cliActor, storeLocation } from '../open-store.js'

/** Usage of `sigil keys migrate`. */
export const MIGRATE_USAGE = 'sigil keys migrate [--check]'

const value = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v))

function reportText(r: KeyStoreMigrationReport, check: boolean): string {
  const { schema, rows } = r
  const would = check ? 'would ' : ''
  const lines = [
    schema.pending.length === 0
      ? `Schema: version ${schema.version}, current.`
      : `Schema: version ${schema.version} → ${schema.latest} (migration${schema.pending.length > 1 ? 's' : ''} ${schema.pending.join(', ')} ${check ? 'would run' : 'ran'}).`,
    `Rows: ${rows.current + rows.converted.length + rows.invalid.length} key(s); ${rows.converted.length} ${would}${check ? 'be ' : ''}converted to this release's format, ${rows.current} current, ${rows.invalid.length} invalid.`,
  ]
  for (const k of rows.converted.slice(0, 200)) {
    for (const c of k.changes) lines.push(`  ${k.keyId}  ${c.field} ${value(c.from)} → ${value(c.to)}`)
  }
  if (rows.converted.length > 200) lines.push(`  … ${rows.converted.length - 200} more (--json lists them all)`)
  if (rows.invalid.length > 0) {
    lines.push('Invalid rows, left as they are (a rate limiter refuses their requests with 403 KEY_RECORD_INVALID): fix or revoke them:')
    for (const k of rows.invalid) lines.push(`  ${k.keyId}  ${k.field}: ${k.reason}`)
  }
  if (check && (rows.converted.length > 0 || schema.pending.length > 0))
    lines.push('Nothing was written (--check). Run `sigil keys migrate` to apply.')
  return `${lines.join('\n')}\n`
}

/**
 * `sigil keys migrate [--check]`: bring the key store to this release — pending schema migrations,
 * then rows of an older format converted (with new record MACs). `--check` writes nothing and
 * reports what would change. Exit 0 when nothing is (or, after a run, remains) to do; 1 when
 * `--check` finds changes to make, or when rows remain that no conversion makes usable.
 */
export const keysMigrate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { ...STORE_OPTIONS, check: { type: 'boolean' } })
  if (positionals.length) throw usageError(`keys migrate takes no positional arguments\nusage: ${MIGRATE_USAGE}`)
  const check = values.check === true
  const where = storeLocation(values, ctx.io)
  const masterKey = ctx.io.env.SIGIL_MASTER_KEY
  const actor = cliActor(ctx.io)
  let report: KeyStoreMigrationReport
  if (where.kind === 'postgres') {
    const { migratePostgresKeyStore } = await import('@sigil/keys/postgres')
    report = await migratePostgresKeyStore({
      connectionString: where.url,
      masterKey,
      actor,
      dryRun: check,
      ...(where.schema ? { schema: where.schema } : {}),
    })
  } else {
    const { migrateSqliteKeyStore } = await import('@sigil/keys/sqlite')
    report = await migrateSqliteKeyStore({ path: where.path, masterKey, actor, dryRun: check })
  }
  ctx.io.stdout.write(ctx.json ? toJson(report) : reportText(report, check))
  const pending = report.rows.converted.length > 0 || report.schema.pending.length > 0
  return report.rows.invalid.length > 0 || (check && pending) ? EXIT.FAILURE : EXIT.OK
}
