import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { presignUrl } from '@sigil/client'
import { contentDigest } from '@sigil/core'
import { PRESIGNED_MAX_LIFETIME_S } from '@sigil/core/internal'
import { parseCommandArgs } from '../args.js'
import { usageError } from '../exit-codes.js'
import { parseDuration, parseSize, toJson } from '../format.js'
import type { Command } from '../io.js'
import { credentialsFromFlags } from '../request-flags.js'

/** Help text, printed for `--help`. */
export const USAGE =
  'usage: sigil presign URL [--expires 15m] [--method GET|PUT|…] [--max-bytes 10MiB] [--digest-of FILE] [--once] [--token T | --key-id ID --secret S]'

/**
 * `sigil presign`: print a presigned URL (SPEC §7) — a link that works without a key until it
 * expires. It is a bearer credential: hand it only to whoever may use it.
 */
export const presign: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    expires: { type: 'string' },
    method: { type: 'string', short: 'X' },
    'max-bytes': { type: 'string' },
    'digest-of': { type: 'string' },
    once: { type: 'boolean' },
    token: { type: 'string' },
    'key-id': { type: 'string' },
    secret: { type: 'string' },
  })
  if (values.help) {
    ctx.io.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw usageError(USAGE)
  const url = positionals[0] as string
  try {
    new URL(url)
  } catch {
    throw usageError('not a URL')
  }
  const creds = credentialsFromFlags(values, ctx.io)
  if (!creds) throw usageError('no credentials: pass --token, set SIGIL_TOKEN, or pass --key-id and --secret')
  const expiresMs = parseDuration(values.expires ?? '15m')
  if (expiresMs === undefined || expiresMs < 1000 || expiresMs > PRESIGNED_MAX_LIFETIME_S * 1000) {
    throw usageError('--expires must be a duration from 1s to 7d (e.g. 15m, 1h, 7d)')
  }
  let maxBytes: number | undefined
  if (values['max-bytes'] !== undefined) {
    maxBytes = parseSize(values['max-bytes'])
    if (maxBytes === undefined) throw usageError('--max-bytes takes a size: bytes, or with a unit (512KiB, 10MiB, 2MB)')
  }
  let digest: string | undefined
  if (values['digest-of'] !== undefined) {
    try {
      digest = contentDigest(readFileSync(resolve(ctx.io.cwd, values['digest-of'])))
    } catch {
      throw usageError(`cannot read ${values['digest-of']}`)
    }
  }
  const link = await presignUrl(url, {
    keyId: creds.keyId,
    secret: creds.secret,
    expiresInMs: expiresMs,
    ...(values.method ? { method: values.method } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(digest ? { contentDigest: digest } : {}),
    ...(values.once ? { singleUse: true } : {}),
    ...(ctx.io.now ? { now: ctx.io.now } : {}),
  })
  if (ctx.json) {
    const expiresAt = new Date(Math.floor((ctx.io.now ?? Date.now)() / 1000) * 1000 + Math.floor(expiresMs / 1000) * 1000)
    ctx.io.stdout.write(toJson({ url: link, expiresAt: expiresAt.toISOString() }))
  } else ctx.io.stdout.write(`${link}\n`)
  return 0
}
