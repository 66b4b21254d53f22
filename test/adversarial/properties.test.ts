// Properties (fast-check): no input crashes the verifier, any change to a covered component is
// rejected with the right code, and every generated request round-trips sign → verify.
import { parseSignatures, VerificationError } from '@sigil/core'
import { normalizeAuthority } from '@sigil/core/internal'
import { verify } from '@sigil/server'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { check, FUZZ_RUNS, fuzzTimeout, writeFuzzReport } from './fuzz-config.js'
import { type RequestSpec, signSpec, type Wire } from './harness.js'
import { deliverIncoming, outcomeOf, startServer, verifierFor } from './transports.js'

const SPEC = { request: { target: '/' } }

// --- generators -------------------------------------------------------------------------------
const SF_TOKENS = [
  'sig1=',
  'sig2=',
  '(',
  ')',
  ' ',
  ',',
  ';',
  '=',
  '"',
  '\\',
  ':',
  '*',
  '?1',
  '?0',
  '-1',
  '1735689600',
  '1e9',
  '99999999999999999',
  '"@method"',
  '"@authority"',
  '"@path"',
  '"@query"',
  '"@status"',
  '"@query-param";name="a"',
  '"content-digest";key="sha-256"',
  '"signature";req;key="sig1"',
  '"content-type";sf',
  '"x";bs',
  '"X-Upper"',
  '"@unknown"',
  ';created=1735689600',
  ';expires=1',
  ';nonce="abcdefghijklmnopqrstuv"',
  ';keyid="k_adv_1"',
  ';alg="hmac-sha256"',
  ';tag="sigil"',
  ';tag="other"',
  ':AAAA:',
  ':tF4awf4dH9GpD0U96XJOS+CvdquXocN4V8X1lBQQRuw=:',
  '@',
  '%',
  '\t',
  '\u00e9',
  '\u0000',
  '\r\n',
  'sig1=("@method")',
  '((((',
]
const sfNoise = fc.array(fc.constantFrom(...SF_TOKENS), { maxLength: 40 }).map((a) => a.join(''))
const headerNoise = fc.oneof(sfNoise, fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 200 }))

/** A valid header with random single-character edits. */
const edited = (valid: string) =>
  fc
    .array(fc.tuple(fc.nat(valid.length), fc.constantFrom('ins', 'del', 'sub'), fc.constantFrom(...'()";=,:* ab1@\\?-'.split(''))), {
      minLength: 1,
      maxLength: 6,
    })
    .map((edits) => {
      let s = valid
      for (const [i, op, ch] of edits) {
        const at = Math.min(i, s.length)
        s =
          op === 'ins'
            ? s.slice(0, at) + ch + s.slice(at)
            : op === 'del'
              ? s.slice(0, at) + s.slice(at + 1)
              : s.slice(0, at) + ch + s.slice(at + 1)
      }
      return s
    })

const PCHAR = [..."abcXYZ019-._~!$&'()*+,;=:@"].concat(['%2F', '%2f', '%7e', '%7E', '%20', '%C3%A9', '%25'])
const segment = fc.array(fc.constantFrom(...PCHAR), { maxLength: 6 }).map((a) => a.join(''))
/** Raw (already percent-encoded) ASCII paths. */
const rawPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`)
const QCHAR = [..."abcXYZ019-._~!$'()*+,;:@/?"].concat(['%26', '%3D', '%20', '+', '%C3%A9'])
const qword = fc.array(fc.constantFrom(...QCHAR), { maxLength: 5 }).map((a) => a.join(''))
/** Raw queries with repeated keys: '' (none), '?' or '?k=v&k=v...'. */
const rawQuery = fc.oneof(
  fc.constant(''),
  fc.constant('?'),
  fc
    .array(fc.tuple(fc.constantFrom('a', 'b', 'id', 'a[]', qword as unknown as string), qword), { minLength: 1, maxLength: 6 })
    .map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`),
)
/** Paths as a user types them into fetch: unicode, spaces, dot segments, pre-encoded escapes. */
const userPath = fc
  .array(fc.oneof(segment, fc.constantFrom('caf\u00e9', '\u65e5\u672c', '\ud83d\ude00', 'a b', '.', '..', '%zz', '~user')), {
    minLength: 1,
    maxLength: 5,
  })
  .map((s) => `/${s.join('/')}`)
const userQuery = fc.oneof(
  fc.constant(''),
  fc.constant('?'),
  fc
    .array(fc.tuple(fc.constantFrom('a', 'a', 'b', 'q\u00e9', 'x y'), fc.constantFrom('1', '2', 'a+b', 'a%20b', '\u00e9', '', 'x=y')), {
      minLength: 1,
      maxLength: 6,
    })
    .map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`),
)
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY', 'PURGE', 'M-SEARCH']
const host = fc.constantFrom('api.example.com', 'API.Example.com', 'api.example.com:8443', 'localhost:3000', '127.0.0.1', '[::1]:8080')
const body = fc.option(fc.uint8Array({ maxLength: 1024 }), { nil: undefined })

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')

// --- properties -------------------------------------------------------------------------------
describe('properties', () => {
  let server: Awaited<ReturnType<typeof startServer>>
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server.close()
    writeFuzzReport(new URL('./FUZZ.md', import.meta.url))
  })

  it(
    'random bytes in Signature / Signature-Input never throw anything but VerificationError',
    async () => {
      const valid = await signSpec({
        method: 'POST',
        target: '/v1/orders?a=1',
        headers: [['Content-Type', 'application/json']],
        body: '{}',
      })
      const si = valid.headers.find(([k]) => k === 'signature-input')?.[1] as string
      const sig = valid.headers.find(([k]) => k === 'signature')?.[1] as string
      const verifier = verifierFor(SPEC)
      const original = parseSignatures(si, sig)[0] as ReturnType<typeof parseSignatures>[number]
      const input = fc.oneof(
        fc.tuple(headerNoise, headerNoise),
        fc.tuple(edited(si), fc.constant(sig)),
        fc.tuple(fc.constant(si), edited(sig)),
      )
      await check(
        'header noise → VerificationError only',
        FUZZ_RUNS,
        fc.asyncProperty(input, async ([a, b]) => {
          let parsed: ReturnType<typeof parseSignatures> | undefined
          try {
            parsed = parseSignatures(a, b)
          } catch (e) {
            if (!(e instanceof VerificationError)) throw e
          }
          const headers = valid.headers
            .filter(([k]) => !k.startsWith('signature'))
            .concat([
              ['signature-input', a],
              ['signature', b],
            ])
          const out = await deliverIncoming({ ...valid, headers } as Wire, verifier)
          // deliverIncoming rethrows anything that is not a VerificationError. An edit may be a no-op
          // on the canonical form (e.g. whitespace after a comma): only then may it verify.
          if (out === 'accepted') {
            const ours = parsed?.find((e) => e.params.tag === 'sigil')
            expect(ours?.paramsValue).toBe(original.paramsValue)
            expect(Buffer.from(ours?.signature ?? []).equals(Buffer.from(original.signature))).toBe(true)
          }
        }),
        0,
      )
    },
    fuzzTimeout(),
  )

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('method' as const), to: fc.constantFrom(...METHODS, 'get', 'Post', 'GET ') }),
    fc.record({ kind: fc.constant('authority' as const), to: host }),
    fc.record({ kind: fc.constant('path' as const), to: rawPath }),
    fc.record({ kind: fc.constant('query' as const), to: rawQuery }),
    fc.record({ kind: fc.constant('header' as const), to: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }) }),
    fc.record({ kind: fc.constant('body' as const), to: fc.uint8Array({ maxLength: 64 }) }),
  )
  it(
    'any change to a covered component is rejected with the right code',
    async () => {
      const request = fc.record({ method: fc.constantFrom(...METHODS), host, path: rawPath, query: rawQuery, header: qword, body })
      await check(
        'covered mutation → SIGNATURE_INVALID / DIGEST_MISMATCH',
        FUZZ_RUNS,
        fc.asyncProperty(request, mutation, async (r, m) => {
          const spec: RequestSpec = {
            method: r.method,
            host: r.host,
            target: r.path + r.query,
            headers: [['X-Sig-Test', r.header]],
            ...(r.body ? { bodyBase64: b64(r.body) } : {}),
          }
          const extra = ['x-sig-test']
          const w = await signSpec(spec, {
            signer: 'raw',
            components: ['@method', '@authority', '@path', '@query', ...extra, ...(r.body ? ['content-digest'] : [])],
          })
          const q = (s: string) => (s === '' ? '?' : s)
          let expected = 'SIGNATURE_INVALID'
          let out: Wire
          switch (m.kind) {
            case 'method':
              fc.pre(m.to !== r.method)
              out = { ...w, method: m.to }
              break
            case 'authority':
              fc.pre(normalizeAuthority(m.to, 'https') !== normalizeAuthority(r.host, 'https'))
              out = { ...w, headers: w.headers.map(([k, v]) => [k, k === 'Host' ? m.to : v]) }
              break
            case 'path':
              fc.pre(m.to !== r.path)
              out = { ...w, target: m.to + r.query }
              break
            case 'query':
              fc.pre(q(m.to) !== q(r.query))
              out = { ...w, target: r.path + m.to }
              break
            case 'header':
              fc.pre(m.to.trim() !== r.header.trim())
              out = { ...w, headers: w.headers.map(([k, v]) => [k, k === 'X-Sig-Test' ? m.to : v]) }
              break
            case 'body':
              fc.pre(r.body !== undefined && Buffer.compare(Buffer.from(m.to), Buffer.from(r.body)) !== 0)
              out = { ...w, body: m.to }
              expected = 'DIGEST_MISMATCH'
              break
          }
          expect(await deliverIncoming(out, verifierFor({ request: spec }))).toBe(expected)
        }),
        1,
      )
    },
    fuzzTimeout(),
  )

  const generated = fc.record({ method: fc.constantFrom(...METHODS), host, path: userPath, query: userQuery, body })
  const toSpec = (r: { method: string; host: string; path: string; query: string; body: Uint8Array | undefined }): RequestSpec => ({
    method: r.method,
    host: r.host,
    target: r.path + r.query,
    headers: r.body ? [['Content-Type', 'application/octet-stream']] : [],
    ...(r.body && r.method !== 'GET' && r.method !== 'HEAD' ? { bodyBase64: b64(r.body) } : {}),
  })

  it(
    'sign → verify round-trips for generated requests (client signer, IncomingRequest and Web Request)',
    async () => {
      await check(
        'round trip (IncomingRequest + verify(Request))',
        FUZZ_RUNS,
        fc.asyncProperty(generated, async (r) => {
          const spec = toSpec(r)
          const w = await signSpec(spec)
          expect(await deliverIncoming(w, verifierFor({ request: spec }))).toBe('accepted')
          const url = `https://${w.headers[0]?.[1]}${w.target}`
          const headers = w.headers.filter(([k]) => k !== 'Host')
          const req = new Request(url, { method: w.method, headers, body: w.body as Uint8Array<ArrayBuffer> | null })
          expect(await outcomeOf(verify(req, verifierFor({ request: spec })))).toBe('accepted')
        }),
        2,
      )
    },
    fuzzTimeout(),
  )

  it(
    'sign → verify round-trips over a raw node:http socket',
    async () => {
      await check(
        'round trip (raw socket)',
        Math.max(50, Math.floor(FUZZ_RUNS / 20)),
        fc.asyncProperty(generated, async (r) => {
          const spec = toSpec(r)
          server.use(verifierFor({ request: spec }))
          expect(await server.send(await signSpec(spec))).toBe('accepted')
        }),
        3,
      )
    },
    fuzzTimeout(),
  )
})
