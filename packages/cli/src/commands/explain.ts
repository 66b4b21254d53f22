import { componentsFor } from '@sigil/client'
import {
  checkContentDigest,
  digestBytes,
  normalizeAuthority,
  parseContentDigest,
  parseSignatures,
  type RequestMessage,
  requestFromUrl,
  SigilError,
  type SignatureEntry,
  serializeSignatureParams,
  signatureBase,
  verifyMessageSignature,
} from '@sigil/core'
import { parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { EXIT, usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { credentialsFromFlags, REQUEST_OPTIONS, requestFromFlags } from '../request-flags.js'
import { type Check, profileChecks } from './explain-checks.js'
import { keyCheck } from './explain-key.js'

const USAGE = `usage: sigil explain [-X METHOD] [-H "Name: value"]... [--data-binary @FILE] [--signature-input V --signature V]
                     [--token T | --key-id ID --secret S] [--now UNIX] [--window 300] [--tag sigil] URL

Signature-Input / Signature may also be given as -H headers.`

/** `sigil explain`: rebuild the signature base of a request and say which verifier check fails. */
export const explain: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...REQUEST_OPTIONS,
    ...STORE_OPTIONS,
    'signature-input': { type: 'string' },
    signature: { type: 'string' },
    now: { type: 'string' },
    window: { type: 'string' },
    tag: { type: 'string' },
  })
  if (values.help) {
    ctx.io.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw usageError(USAGE)
  const spec = requestFromFlags(values, positionals[0], ctx.io)
  if (values['signature-input']) spec.headers.set('signature-input', values['signature-input'])
  if (values.signature) spec.headers.set('signature', values.signature)
  // -d implies a form content type in curl; a request being explained keeps the headers it had.
  if (!values.header?.some((h) => /^content-type\s*:/i.test(h))) spec.headers.delete('content-type')
  const nowSec = values.now !== undefined ? Number(values.now) : Math.floor((ctx.io.now ?? Date.now)() / 1000)
  const window = values.window !== undefined ? Number(values.window) : 300
  if (!Number.isInteger(nowSec) || !Number.isInteger(window) || window <= 0) throw usageError('--now and --window take whole seconds')
  const tag = values.tag ?? 'sigil'
  const creds = credentialsFromFlags(values, ctx.io)

  const view: RequestMessage = requestFromUrl(spec.method, spec.url, spec.headers)
  const host = spec.headers.get('host')
  if (host) view.authority = normalizeAuthority(host, view.scheme)
  const checks: Check[] = []
  let base: string | undefined
  let entry: SignatureEntry | undefined
  const fail = (step: string, e: unknown) =>
    checks.push({ step, ok: false, code: e instanceof SigilError ? e.code : 'INTERNAL', detail: (e as Error).message })

  try {
    const all = parseSignatures(spec.headers.get('signature-input'), spec.headers.get('signature'))
    const tagged = all.filter((s) => s.params.tag === tag)
    if (tagged.length !== 1) {
      checks.push({
        step: 'parse',
        ok: false,
        code: tagged.length ? 'SIGNATURE_MALFORMED' : 'SIGNATURE_MISSING',
        detail: `${tagged.length} signatures carry tag "${tag}" (labels: ${all.map((s) => s.label).join(', ') || 'none'}); exactly one must`,
      })
    } else {
      entry = tagged[0] as SignatureEntry
      checks.push({ step: 'parse', ok: true, detail: `one signature tagged "${tag}", label ${entry.label}` })
    }
  } catch (e) {
    fail('parse', e)
  }

  if (entry) {
    checks.push(...profileChecks(entry, spec.body, nowSec, window, creds?.keyId))
    try {
      base = signatureBase(view, entry.components, entry.paramsValue)
      checks.push({ step: 'base', ok: true, detail: 'every covered component could be derived' })
    } catch (e) {
      fail('base', e)
    }
    // No secret given: with a key store named (flag or environment), check the key there.
    let secret = creds?.secret
    if (!creds && entry.params.keyid !== undefined) {
      const found = await keyCheck(values, ctx.io, entry.params.keyid, nowSec)
      if (found) {
        // Replaces the "not checked (no credentials)" placeholder of the profile checks.
        const at = checks.findIndex((c) => c.step === 'key' && c.ok === null)
        if (at >= 0) checks[at] = found.check
        else checks.push(found.check)
        secret = found.secret
      }
    }
    if (base !== undefined && secret) {
      const { ok } = await verifyMessageSignature(view, entry, secret)
      checks.push(
        ok
          ? { step: 'mac', ok: true, detail: 'HMAC-SHA256 matches' }
          : {
              step: 'mac',
              ok: false,
              code: 'SIGNATURE_INVALID',
              detail: 'MAC mismatch: the signer saw a different base or used another secret',
            },
      )
    } else if (base !== undefined) {
      checks.push({ step: 'mac', ok: null, detail: 'skipped: no --token / --secret given and no usable key in a store' })
    }
  } else if (!spec.headers.has('signature-input')) {
    // No signature to explain: show what Sigil would sign, with illustrative parameters.
    const components = componentsFor(spec.body !== null, spec.headers.has('content-type'), [])
    const params = serializeSignatureParams(components, { created: nowSec, keyid: creds?.keyId ?? 'KEY_ID', alg: 'hmac-sha256', tag })
    base = signatureBase(view, components, params)
  }

  const digestHeader = spec.headers.get('content-digest')
  if (spec.body && digestHeader) {
    try {
      checkContentDigest(
        parseContentDigest(digestHeader),
        new Map([
          ['sha-256', digestBytes('sha-256', spec.body)],
          ['sha-512', digestBytes('sha-512', spec.body)],
        ]),
      )
      checks.push({ step: 'digest', ok: true, detail: 'body matches Content-Digest' })
    } catch (e) {
      fail('digest', e)
    }
  } else if (spec.body) {
    checks.push({ step: 'digest', ok: false, code: 'DIGEST_MISSING', detail: 'the request has a body but no Content-Digest' })
  }

  const failed = checks.find((c) => c.ok === false)
  const io = ctx.io
  if (ctx.json) {
    io.stdout.write(toJson({ ok: !failed, code: failed?.code ?? null, signatureBase: base ?? null, checks }))
  } else {
    if (base !== undefined)
      io.stdout.write(`Signature base${entry ? '' : ' Sigil would sign (illustrative parameters)'}:\n${base.replace(/^/gm, '  ')}\n\n`)
    io.stdout.write('Checks:\n')
    for (const c of checks)
      io.stdout.write(`  ${c.ok === null ? '-' : c.ok ? '✓' : '✗'} ${c.step.padEnd(8)}${c.code ? `${c.code}: ` : ''}${c.detail}\n`)
    io.stdout.write(failed ? `\nA Sigil verifier would reject this request with ${failed.code}.\n` : '\nNo check failed.\n')
  }
  return failed ? EXIT.FAILURE : EXIT.OK
}
