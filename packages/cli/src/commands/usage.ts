import type { UsageDay, UsageReport } from '@sigil/redis'
import { onePositional, parseCommandArgs } from '../args.js'
import { CliError, EXIT, usageError } from '../exit-codes.js'
import { table, toJson } from '../format.js'
import type { Command } from '../io.js'

const USAGE = 'sigil keys usage KEY_ID [--from YYYY-MM-DD] [--to YYYY-MM-DD | --days N] [--redis URL] [--prefix P] [--json]'
const DAY = /^\d{4}-\d{2}-\d{2}$/
const iso = (d: Date | undefined) => (d ? d.toISOString().replace('.000Z', 'Z') : '-')
const codes = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c}=${n}`)
    .join(',') || '-'
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)

/** Where Redis is, for messages: host and port only (a URL may carry a password). */
function where(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || 6379}`
  } catch {
    return 'the configured Redis'
  }
}

function row(label: string, d: Omit<UsageDay, 'date'>): string[] {
  return [label, String(d.accepted), String(sum(d.rejected)), codes(d.rejected), iso(d.lastUsedAt), d.lastAddress ?? '-']
}

/**
 * The table view of a usage report: one row per day with traffic, then the totals.
 *
 * @example
 * ```ts
 * process.stdout.write(usageTable(await getUsage(redis, keyId)))
 * ```
 */
export function usageTable(r: UsageReport): string {
  const head = `Usage of ${r.keyId}, ${r.from} to ${r.to} (UTC days)\n`
  if (r.days.length === 0) return `${head}No traffic recorded.\n`
  const rows = r.days.map((d) => row(d.date, d))
  rows.push(row('TOTAL', r.totals))
  return head + table(['DATE', 'ACCEPTED', 'REJECTED', 'BY CODE', 'LAST USED', 'FROM'], rows)
}

/** JSON view: dates as ISO strings. */
function usageJson(r: UsageReport): unknown {
  const day = (d: Omit<UsageDay, 'date'> & { date?: string }) => ({
    ...(d.date ? { date: d.date } : {}),
    accepted: d.accepted,
    rejected: d.rejected,
    lastUsedAt: d.lastUsedAt ? d.lastUsedAt.toISOString() : null,
    lastAddress: d.lastAddress ?? null,
  })
  return { keyId: r.keyId, from: r.from, to: r.to, days: r.days.map(day), totals: day(r.totals) }
}

/**
 * `sigil keys usage KEY_ID`: accepted requests, rejections by code and last use per UTC day, as
 * recorded in Redis by `@sigil/redis`'s usage recorder. Redis from `--redis` or
 * `SIGIL_REDIS_URL` (default `redis://127.0.0.1:6379`), prefix from `--prefix` or
 * `SIGIL_REDIS_PREFIX` (default `sigil`). Default range: the last 30 days.
 *
 * @example
 * ```ts
 * KEYS_COMMANDS.usage = { summary: 'show usage of a key per day', usage: USAGE, run: keysUsage }
 * // $ sigil keys usage AbCd1234 --days 7 --json
 * ```
 */
export const keysUsage: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    days: { type: 'string' },
    redis: { type: 'string' },
    prefix: { type: 'string' },
  })
  const keyId = onePositional(positionals, 'a key id', USAGE)
  for (const f of ['from', 'to'] as const)
    if (values[f] !== undefined && !DAY.test(values[f])) throw usageError(`--${f} takes a date YYYY-MM-DD`)
  if (values.days !== undefined && !(/^\d+$/.test(values.days) && Number(values.days) >= 1))
    throw usageError('--days takes a positive number')
  if (values.days !== undefined && values.from !== undefined) throw usageError('--days cannot be combined with --from')
  const to = values.to ?? new Date((ctx.io.now ?? Date.now)()).toISOString().slice(0, 10)
  const from =
    values.from ??
    (values.days ? new Date(Date.parse(`${to}T00:00:00Z`) - (Number(values.days) - 1) * 86_400_000).toISOString().slice(0, 10) : undefined)
  const url = values.redis ?? ctx.io.env.SIGIL_REDIS_URL ?? 'redis://127.0.0.1:6379'
  const prefix = values.prefix ?? ctx.io.env.SIGIL_REDIS_PREFIX ?? 'sigil'

  const [{ getUsage, RECOMMENDED_REDIS_OPTIONS }, { Redis }] = await Promise.all([import('@sigil/redis'), import('ioredis')])
  const redis = new Redis(url, { ...RECOMMENDED_REDIS_OPTIONS, lazyConnect: true, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    try {
      await redis.connect()
    } catch {
      throw new CliError(EXIT.STORE, 'STORE_UNAVAILABLE', `Redis at ${where(url)} did not answer`)
    }
    let report: UsageReport
    try {
      report = await getUsage(redis, keyId, { to, ...(from ? { from } : {}) }, { prefix })
    } catch (e) {
      if (e instanceof Error && /range|YYYY/.test(e.message)) throw usageError(e.message)
      throw new CliError(EXIT.STORE, 'STORE_UNAVAILABLE', `Redis at ${where(url)} did not answer`)
    }
    ctx.io.stdout.write(ctx.json ? toJson(usageJson(report)) : usageTable(report))
    return 0
  } finally {
    redis.disconnect()
  }
}

/**
 * Summary and usage line for the `keys` dispatcher.
 *
 * @example
 * ```ts
 * KEYS_COMMANDS.usage = KEYS_USAGE_COMMAND
 * ```
 */
export const KEYS_USAGE_COMMAND = { summary: 'show accepted/rejected requests per day (Redis)', usage: USAGE, run: keysUsage }
