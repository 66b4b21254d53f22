import { createSignedFetch } from '@sigil/client'
import { DEFAULT_SIGNATURE_LIMITS, parseSignatures, requestFromFetch, SigilError, signatureBase } from '@sigil/core'
import { parseCommandArgs } from '../args.js'
import { CliError, EXIT, usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { credentialsFromFlags, REQUEST_OPTIONS, requestFromFlags } from '../request-flags.js'

/** Help text, printed for `--help`. */
export const USAGE =
  'usage: sigil curl [-X METHOD] [-H "Name: value"]... [-d DATA | --data-binary @FILE] [-i] [-v] [-s] [-f] [-L | --location-trusted] [--max-redirs N] [--token T | --key-id ID --secret S] URL'

/** The signature base of a request the client signed, rebuilt from its own headers (for `-v`). */
function baseOf(req: Request): string {
  const si = req.headers.get('signature-input')
  const sig = req.headers.get('signature')
  if (si === null || sig === null) return ''
  const entry = parseSignatures(si, sig, DEFAULT_SIGNATURE_LIMITS)[0]
  return entry ? signatureBase(requestFromFetch(req), entry.components, entry.paramsValue) : ''
}

/**
 * `sigil curl`: sign a request with the Sigil profile (SPEC §1) through `@sigil/client` and send
 * it — the method as it goes on the wire, every hop re-signed. Redirects are not followed unless
 * `-L` (same origin only) or `--location-trusted` (any origin, each hop signed for where it goes).
 * `-v` prints each request's headers and signature base to stderr; `-i` includes the response head.
 */
export const curl: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...REQUEST_OPTIONS,
    include: { type: 'boolean', short: 'i' },
    verbose: { type: 'boolean', short: 'v' },
    silent: { type: 'boolean', short: 's' },
    fail: { type: 'boolean', short: 'f' },
    location: { type: 'boolean', short: 'L' },
    'location-trusted': { type: 'boolean' },
    'max-redirs': { type: 'string' },
  })
  if (values.help) {
    ctx.io.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw usageError(USAGE)
  const spec = requestFromFlags(values, positionals[0], ctx.io)
  const creds = credentialsFromFlags(values, ctx.io)
  if (!creds) throw usageError('no credentials: pass --token, set SIGIL_TOKEN, or pass --key-id and --secret')
  const maxRedirects = values['max-redirs'] === undefined ? 50 : Number(values['max-redirs'])
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) throw usageError('--max-redirs must be a whole number')
  const follow = Boolean(values.location || values['location-trusted'])
  const { io } = ctx
  const verbose = values.verbose && !values.silent
  const send = io.fetch ?? fetch
  let last: { req: Request; base: string } | undefined
  const signed = createSignedFetch({
    keyId: creds.keyId,
    secret: creds.secret,
    expiresInMs: 300_000,
    clockSkewRetry: false,
    ...(io.now ? { now: io.now } : {}),
    redirects: { maxRedirects, crossOrigin: values['location-trusted'] ? 'sign' : false },
    fetch: async (url, init) => {
      const req = new Request(url, init)
      last = { req, base: baseOf(req) }
      const u = new URL(req.url)
      if (verbose) {
        io.stderr.write(`> ${req.method} ${u.pathname}${u.search} HTTP/1.1\n> host: ${u.host}\n`)
        for (const [k, v] of req.headers) io.stderr.write(`> ${k}: ${v}\n`)
        io.stderr.write(`>\n${last.base ? `* signature base:\n${last.base.replace(/^/gm, '*   ')}\n` : '* not signed (another origin)\n'}`)
      }
      const res = await send(req)
      if (verbose && follow && res.status >= 300 && res.status < 400) io.stderr.write(`< HTTP/1.1 ${res.status} ${res.statusText}\n`)
      return res
    },
  })
  let res: Response
  try {
    res = await signed(spec.url, {
      method: spec.method,
      headers: spec.headers,
      redirect: follow ? 'follow' : 'manual',
      ...(spec.body ? { body: spec.body as Uint8Array<ArrayBuffer> } : {}),
    })
  } catch (e) {
    if (e instanceof SigilError) throw e
    if (e instanceof TypeError && /redirect/.test(e.message)) throw new CliError(EXIT.NETWORK, 'REDIRECT', e.message)
    const cause = (e as { cause?: { code?: string } }).cause?.code
    throw new CliError(EXIT.NETWORK, 'NETWORK', `request to ${spec.url.origin} failed${cause ? ` (${cause})` : ''}`)
  }
  const location = res.headers.get('location')
  if (follow && location && res.status >= 300 && res.status < 400 && !values.silent) {
    io.stderr.write(
      `sigil: not following the redirect to another origin (${new URL(location, spec.url).origin}); --location-trusted signs for it\n`,
    )
  }
  const body = new Uint8Array(await res.arrayBuffer())
  const sent = last as { req: Request; base: string }
  if (ctx.json) {
    io.stdout.write(
      toJson({
        status: res.status,
        headers: Object.fromEntries(res.headers),
        body: new TextDecoder().decode(body),
        request: {
          method: sent.req.method,
          url: sent.req.url,
          signatureInput: sent.req.headers.get('signature-input'),
          signatureBase: sent.base,
        },
      }),
    )
  } else {
    const head = `HTTP/1.1 ${res.status} ${res.statusText}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n`
    if (verbose) io.stderr.write(head.replace(/^/gm, '< '))
    if (values.include) io.stdout.write(head)
    io.stdout.write(body)
  }
  if (values.fail && res.status >= 400) {
    if (!values.silent) io.stderr.write(`sigil: the server answered ${res.status}\n`)
    return EXIT.HTTP_ERROR
  }
  return EXIT.OK
}
