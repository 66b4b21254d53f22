import { componentsFor } from '@sigil/client'
import { contentDigest, requestFromUrl, signMessage } from '@sigil/core'
import { parseCommandArgs } from '../args.js'
import { CliError, EXIT, usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { credentialsFromFlags, REQUEST_OPTIONS, requestFromFlags } from '../request-flags.js'

const USAGE =
  'usage: sigil curl [-X METHOD] [-H "Name: value"]... [-d DATA | --data-binary @FILE] [-i] [-v] [-s] [-f] [--token T | --key-id ID --secret S] URL'

/**
 * `sigil curl`: sign a request with the Sigil profile (SPEC §1) and send it. `-v` prints the
 * request headers and the signature base to stderr; `-i` includes the response head.
 */
export const curl: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...REQUEST_OPTIONS,
    include: { type: 'boolean', short: 'i' },
    verbose: { type: 'boolean', short: 'v' },
    silent: { type: 'boolean', short: 's' },
    fail: { type: 'boolean', short: 'f' },
  })
  if (values.help) {
    ctx.io.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw usageError(USAGE)
  const spec = requestFromFlags(values, positionals[0], ctx.io)
  const creds = credentialsFromFlags(values, ctx.io)
  if (!creds) throw usageError('no credentials: pass --token, set SIGIL_TOKEN, or pass --key-id and --secret')
  const { io } = ctx
  const now = io.now ?? Date.now
  const headers = spec.headers
  if (spec.body) headers.set('content-digest', contentDigest(spec.body))
  const view = requestFromUrl(spec.method, spec.url, headers)
  const signed = await signMessage(view, {
    keyId: creds.keyId,
    secret: creds.secret,
    components: componentsFor(spec.body !== null, headers.has('content-type'), []),
    created: Math.floor(now() / 1000),
    expiresIn: 300,
  })
  headers.set('signature-input', signed.signatureInput)
  headers.set('signature', signed.signature)
  const verbose = values.verbose && !values.silent
  if (verbose) {
    io.stderr.write(`> ${spec.method} ${view.path}${view.query} HTTP/1.1\n> host: ${view.authority}\n`)
    for (const [k, v] of headers) io.stderr.write(`> ${k}: ${v}\n`)
    io.stderr.write(`>\n* signature base:\n${signed.base.replace(/^/gm, '*   ')}\n`)
  }
  let res: Response
  try {
    res = await (io.fetch ?? fetch)(spec.url, {
      method: spec.method,
      headers,
      ...(spec.body ? { body: spec.body as Uint8Array<ArrayBuffer> } : {}),
    })
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code
    throw new CliError(EXIT.NETWORK, 'NETWORK', `request to ${spec.url.origin} failed${cause ? ` (${cause})` : ''}`)
  }
  const body = new Uint8Array(await res.arrayBuffer())
  if (ctx.json) {
    io.stdout.write(
      toJson({
        status: res.status,
        headers: Object.fromEntries(res.headers),
        body: new TextDecoder().decode(body),
        request: { method: spec.method, url: spec.url.href, signatureInput: signed.signatureInput, signatureBase: signed.base },
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
