// The body step's two ways to check Content-Digest (verify-steps.ts checkBody): the header every
// Sigil client sends (one canonical sha-256 or sha-512 member) over a single-chunk body is compared
// as text; everything else is parsed and checked. Both must give the same outcome, error code
// included, whatever the header's form and however the body is chunked.
import { checkContentDigest, component, contentDigest, requestFromFetch, SigilError, signMessage } from '@sigil/core'
import { digestBytes, parseContentDigest, randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { outcomeOf } from '../../../../test/helpers/outcome.js'
import { verify } from './verify.js'

const secret = randomBytes(32)
const keyId = 'kDigest00001'
const T0 = 1_735_689_600_000
const URL_ = 'https://api.example.com/v1/orders'
const COMPONENTS = ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest'].map((n) => component(n))

/** A POST whose Content-Digest is `header` exactly, signed over it, its body sent in `chunks`. */
async function signedWith(header: string, chunks: Uint8Array[]): Promise<Request> {
  const headers = new Headers({ 'content-type': 'application/octet-stream', 'content-digest': header })
  const view = requestFromFetch(new Request(URL_, { method: 'POST', headers }))
  const s = await signMessage(view, { keyId, secret, components: COMPONENTS, created: T0 / 1000 })
  headers.set('signature-input', s.signatureInput)
  headers.set('signature', s.signature)
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk)
      c.close()
    },
  })
  return new Request(URL_, { method: 'POST', headers, body, duplex: 'half' } as RequestInit)
}

/** The long way, straight from core: parse the header, digest the bytes, compare. */
function expected(header: string, body: Uint8Array): string {
  try {
    const declared = parseContentDigest(header)
    if (declared.size === 0) return 'DIGEST_MISSING'
    const digests = new Map([...declared.keys()].map((alg) => [alg, digestBytes(alg, body)]))
    checkContentDigest(declared, digests)
    return 'accepted'
  } catch (e) {
    return e instanceof SigilError ? e.code : 'thrown'
  }
}

const split = (b: Uint8Array, parts: number): Uint8Array[] => {
  if (parts <= 1) return [b]
  const at = Math.floor(b.length / 2)
  return [b.subarray(0, at), b.subarray(at)]
}

/** Flip the unused low bits of the last base64 digit before the padding: same bytes, another text. */
function nonCanonical(header: string): string {
  const i = header.indexOf('=:') - 1
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const d = alphabet.indexOf(header[i] as string)
  return `${header.slice(0, i)}${alphabet[d ^ 1]}${header.slice(i + 1)}`
}

describe('Content-Digest: the text comparison and the full check agree', () => {
  const body = new TextEncoder().encode('{"sku":"A-1","qty":2}'.repeat(40))
  const other = new TextEncoder().encode('{"sku":"A-1","qty":3}'.repeat(40))
  const headers: Array<[string, string]> = [
    ['canonical sha-256', contentDigest(body, 'sha-256')],
    ['canonical sha-512', contentDigest(body, 'sha-512')],
    ['sha-256 of other bytes', contentDigest(other, 'sha-256')],
    ['sha-512 of other bytes', contentDigest(other, 'sha-512')],
    ['non-canonical base64, same bytes', nonCanonical(contentDigest(body, 'sha-256'))],
    ['both algorithms', `${contentDigest(body, 'sha-256')}, ${contentDigest(body, 'sha-512')}`],
    ['both, one wrong', `${contentDigest(body, 'sha-256')}, ${contentDigest(other, 'sha-512')}`],
    ['sha-256 with a parameter', `${contentDigest(body, 'sha-256')};a=1`],
    ['unsupported algorithm only', 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:'],
    ['truncated digest', 'sha-256=:AAAA:'],
  ]
  for (const [name, header] of headers)
    for (const parts of [0, 1, 2]) {
      it(`${name}, body in ${parts} chunk(s)`, async () => {
        const sent = parts === 0 ? new Uint8Array(0) : body
        const chunks = parts === 0 ? [] : split(body, parts)
        const got = await outcomeOf(verify(await signedWith(header, chunks), { keys: { [keyId]: secret }, now: () => T0 }))
        expect(got).toBe(expected(header, sent))
      })
    }

  it('the usual header over the usual body is accepted (the fast way is taken and says yes)', async () => {
    const got = await outcomeOf(verify(await signedWith(contentDigest(body), [body]), { keys: { [keyId]: secret }, now: () => T0 }))
    expect(got).toBe('accepted')
  })
})
