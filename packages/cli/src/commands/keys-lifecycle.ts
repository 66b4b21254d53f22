import { SigilError } from '@sigil/core'
import { announceKeyChange } from '../announce.js'
import { onePositional, parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { usageError } from '../exit-codes.js'
import { keyDetails, keyJson, parseDuration, toJson } from '../format.js'
import type { Command, CommandContext } from '../io.js'
import { withStore } from '../open-store.js'
import { expiryFlag } from './keys-read.js'

const out = (ctx: CommandContext, json: unknown, text: string) => ctx.io.stdout.write(ctx.json ? toJson(json) : text)

/** `sigil keys rotate KEY_ID [--grace 24h]`. */
export const keysRotate: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...STORE_OPTIONS,
    grace: { type: 'string' },
    'expires-in': { type: 'string' },
    'expires-at': { type: 'string' },
  })
  const keyId = onePositional(positionals, 'a key id', 'sigil keys rotate KEY_ID [--grace 24h]')
  const graceMs = values.grace === undefined ? undefined : parseDuration(values.grace)
  if (values.grace !== undefined && graceMs === undefined) throw usageError('--grace takes a duration such as 24h, 30m or 0')
  const expiresAt = expiryFlag(values, (ctx.io.now ?? Date.now)())
  return withStore(values, ctx.io, async (store) => {
    const r = await store!.rotate(keyId, { ...(graceMs !== undefined ? { graceMs } : {}), ...(expiresAt ? { expiresAt } : {}) })
    out(
      ctx,
      { keyId: r.keyId, token: r.token, key: keyJson(r.key), previous: keyJson(r.previous) },
      `Rotated ${keyId} -> ${r.keyId}. The old key works until ${r.previous.notAfter?.toISOString()}.\n` +
        'New token, shown once; store it now:\n\n' +
        `${r.token}\n`,
    )
    return announceKeyChange(ctx.io, { type: 'rotated', keyId, replacedBy: r.keyId })
  })
}

/** `sigil keys revoke KEY_ID`. */
export const keysRevoke: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, STORE_OPTIONS)
  const keyId = onePositional(positionals, 'a key id', 'sigil keys revoke KEY_ID')
  return withStore(values, ctx.io, async (store) => {
    const k = await store!.revoke(keyId)
    out(ctx, keyJson(k), `Revoked ${keyId}.\n`)
    return announceKeyChange(ctx.io, { type: 'revoked', keyId })
  })
}

/** `sigil keys scopes KEY_ID [--set a,b | --add S | --remove S]`. */
export const keysScopes: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...STORE_OPTIONS,
    set: { type: 'string' },
    add: { type: 'string', multiple: true },
    remove: { type: 'string', multiple: true },
  })
  const keyId = onePositional(positionals, 'a key id', 'sigil keys scopes KEY_ID [--set a,b | --add S | --remove S]')
  const split = (xs: string[] | undefined) => (xs ?? []).flatMap((s) => s.split(',')).filter(Boolean)
  if (values.set !== undefined && (values.add || values.remove)) throw usageError('--set cannot be combined with --add/--remove')
  const changes = values.set !== undefined || values.add || values.remove
  return withStore(values, ctx.io, async (store) => {
    const s = store!
    // --add/--remove are applied by the store atomically to the scopes as they are at commit, so
    // concurrent edits (other admins, other processes) never undo each other.
    const k = !changes
      ? await s.info(keyId)
      : await s.update(
          keyId,
          values.set !== undefined ? { scopes: split([values.set]) } : { addScopes: split(values.add), removeScopes: split(values.remove) },
        )
    if (!k) throw new SigilError('KEY_UNKNOWN', `no key ${keyId} in this store`)
    out(ctx, keyJson(k), `${k.scopes.join('\n')}${k.scopes.length ? '\n' : '(no scopes)\n'}`)
    return changes ? announceKeyChange(ctx.io, { type: 'scopes', keyId }) : 0
  })
}

/** `sigil keys expire KEY_ID [--at ISO | --in 1h]`. */
export const keysExpire: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { ...STORE_OPTIONS, at: { type: 'string' }, in: { type: 'string' } })
  const keyId = onePositional(positionals, 'a key id', 'sigil keys expire KEY_ID [--at ISO | --in 1h]')
  const at = expiryFlag({ 'expires-at': values.at, 'expires-in': values.in }, (ctx.io.now ?? Date.now)())
  return withStore(values, ctx.io, async (store) => {
    const k = await store!.expire(keyId, at)
    out(ctx, keyJson(k), keyDetails(k))
    return announceKeyChange(ctx.io, { type: 'expired', keyId })
  })
}
