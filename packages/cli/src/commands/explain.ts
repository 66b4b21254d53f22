import { componentsFor } from '@sigil/client'
import { contentDigest, type KeyRecord, type KeyResolver, signatureBase } from '@sigil/core'
import { DEFAULT_ALGORITHM, requestFromUrl, serializeSignatureParams } from '@sigil/core/internal'
import { createVerifier, type ExplainStep } from '@sigil/server'
import { parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { EXIT, usageError } from '../exit-codes.js'
import { parseDuration, toJson } from '../format.js'
import type { Command } from '../io.js'
import { type StoreFlags, withStore } from '../open-store.js'
import { credentialsFromFlags, REQUEST_OPTIONS, requestFromFlags } from '../request-flags.js'

/** Help text, printed for `--help`. */
export const USAGE = `usage: sigil explain [-X METHOD] [-H "Name: value"]... [--data-binary @FILE] [--signature-input V --signature V]
                     [--token T | --key-id ID --secret S | --store PATH | --database-url URL] [--now UNIX] [--window 5m] [--tag sigil] URL

Signature-Input / Signature may also be given as -H headers. The checks are the verifier's own
(createVerifier().explain): the same steps, in the same order, with the same codes.`

const storeNamed = (flags: StoreFlags, env: Record<string, string | undefined>) =>
  flags.store ?? flags['database-url'] ?? env.SIGIL_STORE ?? env.SIGIL_DATABASE_URL

/** `sigil explain`: run the verifier's steps on a request and say which one fails, with the base it rebuilt. */
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
  if (!Number.isInteger(nowSec)) throw usageError('--now takes a Unix time in whole seconds')
  const windowMs = values.window !== undefined ? parseDuration(values.window) : 300_000
  if (windowMs === undefined || windowMs < 1000 || windowMs > 3_600_000)
    throw usageError('--window takes a duration from 1s to 1h (e.g. 90s, 5m)')
  const tag = values.tag ?? 'sigil'
  const creds = credentialsFromFlags(values, ctx.io)
  const named = storeNamed(values, ctx.io.env)

  // No signature at all: show what Sigil would sign, with illustrative parameters — every one the
  // verifier requires or a Sigil client sends (nonce, expires) — and, with a body, the
  // Content-Digest a signer computes over it (SPEC §1).
  if (!spec.headers.has('signature-input') && !spec.headers.has('signature')) {
    if (spec.body !== null && !spec.headers.has('content-digest')) spec.headers.set('content-digest', contentDigest(spec.body))
    const view = requestFromUrl(spec.method, spec.url, spec.headers)
    const components = componentsFor(spec.body !== null, spec.headers.has('content-type'), [])
    const params = serializeSignatureParams(components, {
      created: nowSec,
      expires: nowSec + Math.floor(windowMs / 1000),
      nonce: 'NONCE_16_RANDOM_BYTES_B64URL',
      keyid: creds?.keyId ?? 'KEY_ID',
      alg: DEFAULT_ALGORITHM,
      tag,
    })
    const base = signatureBase(view, components, params)
    const steps: ExplainStep[] = [{ step: 'parse', ok: false, code: 'SIGNATURE_MISSING', detail: 'the request carries no signature' }]
    return print(ctx, { ok: false, code: 'SIGNATURE_MISSING', steps, signatureBase: base }, true)
  }

  const run = async (keys: KeyResolver, keyChecked: boolean) => {
    const verifier = createVerifier({ keys, windowMs, tag, now: () => nowSec * 1000, maxBodyBytes: 1 << 30 })
    const request = new Request(spec.url, {
      method: spec.method,
      headers: spec.headers,
      ...(spec.body ? { body: spec.body as Uint8Array<ArrayBuffer> } : {}),
    })
    const report = await verifier.explain(request)
    // Without credentials or a store there is no key to check against: say so, don't guess.
    if (!keyChecked && report.code === 'KEY_UNKNOWN') {
      const at = report.steps.findIndex((s) => s.step === 'key')
      report.steps.splice(at, 1, {
        step: 'key',
        ok: null,
        detail: `keyid "${report.keyId ?? ''}"; not checked: pass --token / --secret or a key store`,
      })
      report.steps.push({ step: 'mac', ok: null, detail: 'not checked without a key' })
      delete report.code
      report.ok = true
    }
    return report
  }

  let report: Awaited<ReturnType<typeof run>>
  if (creds) {
    const key: KeyRecord = {
      keyId: creds.keyId,
      secret: creds.secret,
      principal: '(credentials)',
      scopes: [],
      status: 'active',
      createdAt: new Date(0),
    }
    report = await run({ get: (id) => (id === key.keyId ? key : undefined) }, true)
  } else if (named) {
    report = await withStore(values, ctx.io, async (store) => run({ get: async (id) => store?.get(id) }, true), true)
  } else {
    report = await run({ get: () => undefined }, false)
  }
  return print(ctx, report, false)
}

function print(
  ctx: Parameters<Command>[1],
  r: { ok: boolean; code?: string; steps: ExplainStep[]; signatureBase?: string },
  illustrative: boolean,
): number {
  const io = ctx.io
  const complete = r.steps.every((s) => s.ok !== null || s.step === 'replay')
  if (ctx.json) {
    io.stdout.write(toJson({ ok: r.ok, code: r.code ?? null, signatureBase: r.signatureBase ?? null, checks: r.steps }))
  } else {
    if (r.signatureBase !== undefined)
      io.stdout.write(
        `Signature base${illustrative ? ' Sigil would sign (illustrative parameters)' : ''}:\n${r.signatureBase.replace(/^/gm, '  ')}\n\n`,
      )
    io.stdout.write('Checks:\n')
    for (const c of r.steps)
      io.stdout.write(`  ${c.ok === null ? '-' : c.ok ? '✓' : '✗'} ${c.step.padEnd(10)}${c.code ? `${c.code}: ` : ''}${c.detail}\n`)
    io.stdout.write(
      r.code
        ? `\nA Sigil verifier would reject this request with ${r.code}.\n`
        : complete
          ? '\nA Sigil verifier would accept this request.\n'
          : '\nNo check failed; the key and MAC were not checked.\n',
    )
  }
  return r.ok ? EXIT.OK : EXIT.FAILURE
}
