import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { wireMethod } from '@sigil/client'
import { parseToken, SigilError } from '@sigil/core'
import { secretBytes } from '@sigil/core/internal'
import { usageError } from './exit-codes.js'
import type { CliIo } from './io.js'

/** curl-like flags shared by `sigil curl` and `sigil explain`. */
export const REQUEST_OPTIONS = {
  request: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string', short: 'd', multiple: true },
  'data-binary': { type: 'string', multiple: true },
  token: { type: 'string' },
  'key-id': { type: 'string' },
  secret: { type: 'string' },
} as const

/** A request described on the command line. */
export interface RequestSpec {
  method: string
  url: URL
  headers: Headers
  body: Uint8Array | null
}

type Flags = {
  request?: string | undefined
  header?: string[] | undefined
  data?: string[] | undefined
  'data-binary'?: string[] | undefined
}

function readData(arg: string, io: CliIo, binary: boolean): Uint8Array {
  if (!arg.startsWith('@')) return new TextEncoder().encode(arg)
  let bytes: Uint8Array
  try {
    bytes = readFileSync(resolve(io.cwd, arg.slice(1)))
  } catch {
    throw usageError(`cannot read ${arg.slice(1)}`)
  }
  // curl strips CR and LF from -d @file, and keeps --data-binary @file byte for byte.
  return binary ? bytes : bytes.filter((b) => b !== 0x0a && b !== 0x0d)
}

/**
 * Build the request from curl's flags: `-X`, `-H 'Name: value'`, `-d` (joined with `&`, implies
 * POST and, like curl, `application/x-www-form-urlencoded`), `--data-binary @file`.
 *
 * @example
 * ```ts
 * const spec = requestFromFlags(values, positionals[0], io)
 * ```
 */
export function requestFromFlags(flags: Flags, url: string | undefined, io: CliIo): RequestSpec {
  if (!url) throw usageError('a URL is required')
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw usageError(`not a URL: ${url}`)
  }
  const headers = new Headers()
  for (const h of flags.header ?? []) {
    const colon = h.indexOf(':')
    if (colon <= 0) throw usageError(`header must be "Name: value": ${h.split(':')[0]}`)
    try {
      headers.append(h.slice(0, colon).trim(), h.slice(colon + 1).trim())
    } catch {
      throw usageError(`invalid header ${h.slice(0, colon).trim()}`)
    }
  }
  const parts = [
    ...(flags.data ?? []).map((d) => readData(d, io, false)),
    ...(flags['data-binary'] ?? []).map((d) => readData(d, io, true)),
  ]
  let body: Uint8Array | null = null
  if (parts.length) {
    const amp = new Uint8Array([0x26])
    const chunks = parts.flatMap((p, i) => (i ? [amp, p] : [p]))
    body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let o = 0
    for (const c of chunks) {
      body.set(c, o)
      o += c.length
    }
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded')
  }
  // The method as it goes on the wire (fetch upper-cases `put`, `delete`…): what is signed and explained.
  const method = wireMethod(flags.request ?? (body ? 'POST' : 'GET'))
  return { method, url: u, headers, body }
}

/** Credentials from `--token`, `SIGIL_TOKEN`, or `--key-id` + `--secret`; undefined when none. */
export function credentialsFromFlags(
  flags: { token?: string | undefined; 'key-id'?: string | undefined; secret?: string | undefined },
  io: CliIo,
): { keyId: string; secret: Uint8Array } | undefined {
  if (flags['key-id'] || flags.secret) {
    if (!flags['key-id'] || !flags.secret) throw usageError('--key-id and --secret go together')
    // The one secret rule (SPEC §4); hex and plain-text secrets are named with a prefix.
    const raw = flags.secret
    const input = raw.startsWith('hex:') ? { hex: raw.slice(4) } : raw.startsWith('utf8:') ? { utf8: raw.slice(5) } : raw
    try {
      return { keyId: flags['key-id'], secret: secretBytes(input, flags['key-id']) }
    } catch (e) {
      throw new SigilError('TOKEN_INVALID', `--secret: ${(e as Error).message.replace(/^secret of \S+ /, '')}`)
    }
  }
  const token = flags.token ?? io.env.SIGIL_TOKEN
  return token ? parseToken(token) : undefined
}
