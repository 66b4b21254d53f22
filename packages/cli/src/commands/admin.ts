import { chmodSync, existsSync } from 'node:fs'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { CliError, EXIT, usageError } from '../exit-codes.js'
import { parseDuration, toJson } from '../format.js'
import type { Command, CommandContext } from '../io.js'
import { cliActor, openStore, storeLocation } from '../open-store.js'

/** `sigil admin` subcommands and their usage lines (run.ts prints them for `--help`). */
export const ADMIN_COMMANDS: Record<string, { summary: string; usage: string }> = {
  serve: {
    summary: 'run the portal (admin API + dashboard)',
    usage: 'sigil admin serve [--port 8080] [--host 127.0.0.1] [--public-url URL] [--store PATH | --database-url URL]',
  },
  login: {
    summary:
      'print a one-time operator sign-in link (15 min); the portal and its audit log name the operator NAME (default SIGIL_ACTOR, else user@host; --name is the same)',
    usage: 'sigil admin login [--operator NAME] [--url URL]',
  },
  invite: {
    summary: 'print a one-time partner invite link',
    usage: 'sigil admin invite --principal P [--max-keys 3] [--scopes a,b] [--expires 7d] [--url URL]',
  },
}

/** Help text for `sigil admin`. */
export const USAGE = `sigil admin <command>

${Object.entries(ADMIN_COMMANDS)
  .map(
    ([, c]) => `  ${c.usage}
      ${c.summary}`,
  )
  .join('\n')}

The portal uses the same key store and SIGIL_MASTER_KEY as the other commands; its links are
signed with a secret derived from the master key. Machine clients call /api/v1 with requests
signed by a key holding the admin scope: sigil keys create --principal ops --scope admin
`

async function adminSecret(ctx: CommandContext): Promise<Uint8Array> {
  const mk = ctx.io.env.SIGIL_MASTER_KEY
  if (!mk) throw new CliError(EXIT.CONFIG, 'CONFIG', 'SIGIL_MASTER_KEY is not set')
  const { deriveAdminSecret } = await import('@sigil/admin')
  return deriveAdminSecret(mk)
}

const portalUrl = (v: string | undefined, ctx: CommandContext) =>
  (v ?? ctx.io.env.SIGIL_ADMIN_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')

/** `sigil admin serve|login|invite`. */
export const admin: Command = async (args, ctx) => {
  const [sub, ...rest] = args
  if (sub === 'login' || sub === 'invite') {
    const { values, positionals } = parseCommandArgs(rest, {
      url: { type: 'string' },
      name: { type: 'string' },
      operator: { type: 'string' },
      principal: { type: 'string' },
      'max-keys': { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
    })
    if (positionals.length) throw usageError(USAGE)
    const { createLinkToken } = await import('@sigil/admin')
    const secret = await adminSecret(ctx)
    let token: string
    if (sub === 'login') {
      if (values.operator !== undefined && values.name !== undefined && values.operator !== values.name)
        throw usageError('--operator and --name are the same option: give one')
      const given = values.operator ?? values.name
      if (given !== undefined && !/^[\p{L}\p{N} _.@+-]{1,128}$/u.test(given))
        throw usageError('--operator: 1-128 letters, digits, spaces and _ . @ + - (it names the operator in the audit log)')
      const name = (given ?? cliActor(ctx.io).replace(/^cli:/, '')).slice(0, 128)
      token = createLinkToken(secret, { role: 'operator', name }, ctx.io.now ? { now: ctx.io.now } : {})
    } else {
      if (!values.principal) throw usageError(`--principal is required\nusage: ${ADMIN_COMMANDS.invite?.usage}`)
      const maxKeys = Number(values['max-keys'] ?? '3')
      const ttlMs = parseDuration(values.expires ?? '7d')
      if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > 1000) throw usageError('--max-keys must be 1-1000')
      if (!ttlMs || ttlMs > 30 * 86_400_000) throw usageError('--expires must be a duration up to 30d')
      const allowedScopes = (values.scopes ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
      if (allowedScopes.includes('admin')) throw usageError('--scopes: a partner cannot be allowed admin (the operator authority)')
      token = createLinkToken(
        secret,
        { role: 'partner', principal: values.principal, maxKeys, allowedScopes },
        { ttlMs, ...(ctx.io.now ? { now: ctx.io.now } : {}) },
      )
    }
    const link = `${portalUrl(values.url, ctx)}/login?token=${encodeURIComponent(token)}`
    ctx.io.stdout.write(ctx.json ? toJson({ url: link }) : `${link}\n`)
    return EXIT.OK
  }
  if (sub === 'serve') {
    const { values, positionals } = parseCommandArgs(rest, {
      ...STORE_OPTIONS,
      port: { type: 'string' },
      host: { type: 'string' },
      'public-url': { type: 'string' },
    })
    if (positionals.length) throw usageError(USAGE)
    const port = Number(values.port ?? ctx.io.env.PORT ?? '8080')
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError('--port must be 0-65535')
    const host = values.host ?? '127.0.0.1'
    const secret = await adminSecret(ctx)
    const store = await openStore(values, ctx.io)
    if (!store) throw new CliError(EXIT.CONFIG, 'CONFIG', 'no key store')
    const where = storeLocation(values, ctx.io)
    const m = await import('@sigil/admin')
    // The audit log is the key store's own (written with each change, CLI and library writes
    // included). An audit.db of an earlier release is no longer written: tighten it to 0600.
    if (where.kind === 'sqlite') {
      const old = join(dirname(where.path), 'audit.db')
      if (existsSync(old)) {
        for (const f of [old, `${old}-wal`, `${old}-shm`]) if (existsSync(f)) chmodSync(f, 0o600)
        ctx.io.stderr.write(
          `note: ${old} holds the portal's audit events from before this release (read it with sqlite3); new events go to the key store's log\n`,
        )
      }
    }
    const redisUrl = ctx.io.env.SIGIL_REDIS_URL
    let extras: Pick<import('@sigil/admin').AdminOptions, 'announce' | 'usage'> = {}
    let redisClose = () => {}
    if (redisUrl) {
      const [{ publishKeyChange, getUsage, RECOMMENDED_REDIS_OPTIONS }, { Redis }] = await Promise.all([
        import('@sigil/redis'),
        import('ioredis'),
      ])
      const redis = new Redis(redisUrl, { ...RECOMMENDED_REDIS_OPTIONS })
      redis.on('error', () => {})
      const prefix = ctx.io.env.SIGIL_REDIS_PREFIX ?? 'sigil'
      extras = {
        announce: async (c) => {
          await publishKeyChange(redis, c, { prefix })
        },
        usage: (keyId, range) => getUsage(redis, keyId, range, { prefix }),
      }
      redisClose = () => redis.disconnect()
    }
    const publicUrl = values['public-url'] ?? ctx.io.env.SIGIL_ADMIN_URL
    const portal = m.createAdmin({ store, adminSecret: secret, ...extras, ...(publicUrl ? { publicUrl } : {}) })
    const server = createServer(portal.handler)
    const closeAll = async () => {
      redisClose()
      await portal.close()
      await store.close()
    }
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => resolve())
      })
    } catch (e) {
      // A portal that cannot listen exits: close what keeps the process alive (Redis, the store)
      // instead of printing the error and lingering without a socket.
      await closeAll()
      const code = (e as NodeJS.ErrnoException).code
      throw new CliError(
        EXIT.FAILURE,
        'LISTEN_FAILED',
        code === 'EADDRINUSE'
          ? `${host}:${port} is already in use: pass another --port`
          : `cannot listen on ${host}:${port}: ${(e as Error).message}`,
      )
    }
    const addr = server.address() as { port: number }
    const url = publicUrl ?? `http://${host}:${addr.port}`
    const keysAt = where.kind === 'sqlite' ? where.path : 'PostgreSQL'
    ctx.io.stdout.write(
      ctx.json
        ? toJson({ url, openapi: `${url}/api/v1/openapi.json`, store: keysAt })
        : `Sigil admin portal on ${url}\n  keys:     ${keysAt}\n  sign in:  SIGIL_ADMIN_URL=${url} sigil admin login\n  API:      ${url}/api/v1/openapi.json\n`,
    )
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve())
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await closeAll()
    return EXIT.OK
  }
  if (sub === undefined) {
    ctx.io.stdout.write(USAGE)
    return EXIT.USAGE
  }
  throw usageError(`unknown command: admin ${sub}\n${USAGE}`)
}
