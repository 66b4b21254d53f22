import { ConfigurationError } from '@sigil/core'
import { DEFAULT_PREFIX, keyLayout, utcDay } from './key-layout.js'
import type { RedisClient } from './redis-client.js'

/** Days to read, inclusive, as `YYYY-MM-DD` (UTC) or instants. Default: the last 30 days. */
export interface UsageRange {
  from?: Date | string
  to?: Date | string
}

/** Usage of one key on one UTC day. */
export interface UsageDay {
  date: string
  accepted: number
  /** Rejections by error code, e.g. `{ NONCE_REPLAYED: 2, RATE_LIMITED: 40 }`. */
  rejected: Record<string, number>
  lastUsedAt?: Date
  lastAddress?: string
}

/** What {@link getUsage} returns: the days with any traffic, and their totals. */
export interface UsageReport {
  keyId: string
  from: string
  to: string
  days: UsageDay[]
  totals: Omit<UsageDay, 'date'>
}

const DAY_MS = 86_400_000
/**
 * Longest range read at once (one hash per day).
 *
 * @example
 * ```ts
 * await getUsage(redis, keyId, { from: '2025-01-01', to: '2025-12-31' }) // 365 days: allowed
 * ```
 */
export const MAX_USAGE_DAYS = 366

function dayMs(v: Date | string): number {
  const t = typeof v === 'string' ? Date.parse(`${v}T00:00:00Z`) : Date.UTC(v.getUTCFullYear(), v.getUTCMonth(), v.getUTCDate())
  if (Number.isNaN(t)) throw new ConfigurationError('usage range dates must be YYYY-MM-DD or Date')
  return t
}

function toDay(date: string, h: Record<string, string>): UsageDay {
  const day: UsageDay = { date, accepted: Number(h.accepted ?? 0), rejected: {} }
  for (const [f, v] of Object.entries(h)) if (f.startsWith('rej:')) day.rejected[f.slice(4)] = Number(v)
  if (h.lastUsedAt && h.lastUsedAt !== '0') day.lastUsedAt = new Date(Number(h.lastUsedAt))
  if (h.lastAddress) day.lastAddress = h.lastAddress
  return day
}

/**
 * Read the usage of one key per UTC day from Redis, as written by `createRedisUsageRecorder`.
 * One pipelined `HGETALL` per day; all of a key's days share a hash slot, so this works on a
 * Redis Cluster too.
 *
 * @example
 * ```ts
 * const report = await getUsage(redis, 'AbCd1234', { from: '2025-01-01', to: '2025-01-31' }, { prefix: 'myapp' })
 * console.log(report.totals.accepted, report.totals.rejected)
 * ```
 */
export function getUsage(
  client: RedisClient,
  keyId: string,
  range: UsageRange = {},
  options: { prefix?: string } = {},
): Promise<UsageReport> {
  const layout = keyLayout(options.prefix ?? DEFAULT_PREFIX)
  return readDays(client, keyId, range, (d) => layout.usage(keyId, d))
}

/**
 * Read the one usage bucket of key ids the key store did not know (forged or unknown ids, and
 * rejections before the key lookup), per UTC day. `keyId` in the report is `*unknown*`.
 *
 * @example
 * ```ts
 * const report = await getUnknownUsage(redis, { from: '2025-03-01' }, { prefix: 'myapp' })
 * report.totals.rejected // e.g. { CLOCK_SKEW: 200, KEY_UNKNOWN: 12 }
 * ```
 */
export function getUnknownUsage(client: RedisClient, range: UsageRange = {}, options: { prefix?: string } = {}): Promise<UsageReport> {
  const layout = keyLayout(options.prefix ?? DEFAULT_PREFIX)
  return readDays(client, '*unknown*', range, (d) => layout.unknownUsage(d))
}

async function readDays(client: RedisClient, keyId: string, range: UsageRange, keyOf: (day: string) => string): Promise<UsageReport> {
  const to = dayMs(range.to ?? new Date())
  const from = range.from !== undefined ? dayMs(range.from) : to - 29 * DAY_MS
  if (from > to) throw new ConfigurationError('usage range starts after it ends')
  if ((to - from) / DAY_MS + 1 > MAX_USAGE_DAYS) throw new ConfigurationError(`usage range is longer than ${MAX_USAGE_DAYS} days`)
  const dates: string[] = []
  for (let t = from; t <= to; t += DAY_MS) dates.push(utcDay(t))
  const pipe = client.pipeline()
  for (const d of dates) pipe.hgetall(keyOf(d))
  const results = (await pipe.exec()) ?? []
  const totals: UsageReport['totals'] = { accepted: 0, rejected: {} }
  const days: UsageDay[] = []
  results.forEach(([err, h], i) => {
    if (err) throw err
    const hash = h as Record<string, string>
    if (Object.keys(hash).length === 0) return
    const day = toDay(dates[i] as string, hash)
    days.push(day)
    totals.accepted += day.accepted
    for (const [c, n] of Object.entries(day.rejected)) totals.rejected[c] = (totals.rejected[c] ?? 0) + n
    if (day.lastUsedAt && (!totals.lastUsedAt || day.lastUsedAt > totals.lastUsedAt)) {
      totals.lastUsedAt = day.lastUsedAt
      if (day.lastAddress) totals.lastAddress = day.lastAddress
    }
  })
  return { keyId, from: utcDay(from), to: utcDay(to), days, totals }
}
