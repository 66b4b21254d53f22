import { type KeyStatus, SigilError, tokenParts } from '@sigil/core'
import { rateLimitsProblem } from '@sigil/core/internal'
import { onePositional, parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { usageError } from '../exit-codes.js'
import { keyDetails, keyJson, keysTable, parseDuration, toJson } from '../format.js'
import type { Command, CommandContext } from '../io.js'
import { storeLocation, withStore } from '../open-store.js'

/** Expiry from `--expires-in` / `--expires-at`, relative to now. */
export function expiryFlag(
  values: { 'expires-in'?: string | undefined; 'expires-at'?: string | undefined },
  now: number,
): Date | undefined {
  if (values['expires-in'] && values['expires-at']) throw usageError('pass --expires-in or --expires-at, not both')
  if (values['expires-in']) {
    const ms = parseDuration(values['expires-in'])
    if (!ms) throw usageError('--expires-in takes a duration such as 90d, 12h, 30m')
    return new Date(now + ms)
  }
  if (values['expires-at']) {
    const t = Date.parse(values['expires-at'])
    if (!Number.isFinite(t)) throw usageError('--expires-at takes an ISO 8601 date')
    return new Date(t)
  }
  return undefined
}

/** Page size of `sigil keys list` without `--limit`. */
export const DEFAULT_LIST_LIMIT = 100

const out = (ctx: CommandContext, json: unknown, text: string) => ctx.io.stdout.write(ctx.json ? toJson(json) : text)

/** `sigil keys create`. */
export const keysCreate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...STORE_OPTIONS,
    principal: { type: 'string' },
    scope: { type: 'string', multiple: true },
    'expires-in': { type: 'string' },
    'expires-at': { type: 'string' },
    test: { type: 'boolean' },
  })
  if (positionals.length) throw usageError('keys create takes no positional arguments')
  if (!values.principal) throw usageError('--principal is required\nusage: sigil keys create --principal NAME [--scope S]...')
  const scopes = (values.scope ?? []).flatMap((s) => s.split(',')).filter(Boolean)
  const expiresAt = expiryFlag(values, (ctx.io.now ?? Date.now)())
  return withStore(values, ctx.io, async (store) => {
    const test = values.test === true
    const c = await store!.create({
      principal: values.principal as string,
      scopes,
      ...(expiresAt ? { expiresAt } : {}),
      ...(test ? { test } : {}),
    })
    const { prefix, keyId, secret, checksum } = tokenParts(c.token)
    out(
      ctx,
      // The token's parts (SPEC §4) for a partner pasting them into a system that wants them apart.
      { keyId: c.keyId, token: c.token, tokenParts: { prefix, keyId, secret, checksum }, test, key: keyJson(c.key) },
      `Created ${test ? 'test key' : 'key'} ${c.keyId} for ${c.key.principal}${scopes.length ? ` (scopes: ${scopes.join(', ')})` : ''}.\n` +
        'Token, shown once; store it now (e.g. as SIGIL_TOKEN):\n\n' +
        `${c.token}\n`,
    )
    return 0
  })
}

/** `sigil keys list`. */
export const keysList: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...STORE_OPTIONS,
    principal: { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
  })
  if (positionals.length) throw usageError('keys list takes no positional arguments')
  const status = values.status as KeyStatus | undefined
  if (status && !['active', 'revoked', 'expired'].includes(status)) throw usageError('--status is active, revoked or expired')
  const limit = values.limit === undefined ? DEFAULT_LIST_LIMIT : Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw usageError('--limit takes a number from 1 to 10000')
  return withStore(
    values,
    ctx.io,
    async (store) => {
      const keys = store
        ? await store.list({
            limit,
            ...(values.after ? { after: values.after } : {}),
            ...(values.principal ? { principal: values.principal } : {}),
            ...(status ? { status } : {}),
          })
        : []
      const where = storeLocation(values, ctx.io)
      const note = !store && where.kind === 'sqlite' ? `No key store at ${where.path} yet.\n` : ''
      out(ctx, keys.map(keyJson), note || keysTable(keys))
      // A full page may have a next one: say how to get it (stderr, so --json stays one array).
      const last = keys.length === limit ? keys[keys.length - 1] : undefined
      if (last) ctx.io.stderr.write(`more keys may follow: sigil keys list --limit ${limit} --after ${last.keyId}\n`)
      return 0
    },
    true,
  )
}

/** `sigil keys show KEY_ID`. */
export const keysShow: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, STORE_OPTIONS)
  const keyId = onePositional(positionals, 'a key id', 'sigil keys show KEY_ID')
  return withStore(
    values,
    ctx.io,
    async (store) => {
      const k = await store?.info(keyId)
      if (!k) throw new SigilError('KEY_UNKNOWN', `no key ${keyId} in this store`)
      out(ctx, keyJson(k), keyDetails(k))
      // A row no conversion made usable (an older release's format): said here, not first by a partner's 403.
      const bad = rateLimitsProblem(k.rateLimits)
      if (bad) {
        const field = bad.field ? `rateLimits.${bad.field}` : 'rateLimits'
        ctx.io.stderr.write(
          `warning: key ${keyId}: its stored ${field} ${bad.reason}; a rate limiter refuses its requests (403 KEY_RECORD_INVALID) until the row is fixed (sigil keys migrate --check lists every such key)\n`,
        )
      }
      return 0
    },
    true,
  )
}
