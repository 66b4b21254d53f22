import { describe, expect, it } from 'vitest'
import { SIGIL_URL_V1, secretOf } from '../../../test/vectors/load.js'
import { hmacSha256 } from './hmac.js'
import { splitTarget } from './message.js'
import { splitPresignedQuery } from './presigned-url.js'
import { signatureBase } from './signature-base.js'
import { parseSignatures } from './signature-input.js'

const headersOf = (q: { signatureInput: string; signature: string }) => ({
  get: (n: string) => (n === 'signature-input' ? q.signatureInput : n === 'signature' ? q.signature : null),
})

describe('presigned URL vectors (test/vectors/sigil-url-v1.json)', () => {
  for (const v of SIGIL_URL_V1) {
    it(v.name, async () => {
      const u = new URL(v.url)
      const { path, query } = splitTarget(v.url)
      const q = splitPresignedQuery(query)
      expect(q).not.toBeNull()
      if (!q) return
      expect(q.signatureInput).toBe(v.signatureInput)
      expect(q.signature).toBe(v.signature)
      const [entry] = parseSignatures(q.signatureInput, q.signature)
      if (!entry) throw new Error('no entry')
      const method = v.method === 'HEAD' ? 'GET' : v.method
      const view = { method, scheme: u.protocol.slice(0, -1), authority: u.host, path, query: q.baseQuery, headers: headersOf(q) }
      const base = signatureBase(view, entry.components, entry.paramsValue)
      expect(base).toBe(v.base)
      expect(await hmacSha256.verify(secretOf(v.secretBase64), base, entry.signature)).toBe(true)
    })
  }
})

describe('splitPresignedQuery', () => {
  const tail = 'sigil-input=a&sigil=b'
  it('is null without signature parameters, whatever else the query holds', () => {
    expect(splitPresignedQuery('')).toBeNull()
    expect(splitPresignedQuery('?')).toBeNull()
    expect(splitPresignedQuery('?a=1&sigilx=2&x-sigil=3')).toBeNull()
  })
  it('covers the exact raw text before the signature', () => {
    expect(splitPresignedQuery(`?b=2&a=1&c=%7e&${tail}`)?.baseQuery).toBe('?b=2&a=1&c=%7e')
    expect(splitPresignedQuery(`?${tail}`)?.baseQuery).toBe('?')
    expect(splitPresignedQuery(`?a=1&&${tail}`)?.baseQuery).toBe('?a=1&')
  })
  it.each([
    ['only sigil-input', '?sigil-input=a'],
    ['only sigil', '?a=1&sigil=b'],
    ['sigil-input twice', `?sigil-input=x&${tail}`],
    ['sigil twice', `?${tail}&sigil=c`],
    ['moved before another parameter', `?sigil-input=a&sigil=b&z=1`],
    ['swapped order', '?sigil=b&sigil-input=a'],
    ['an encoded copy of the name elsewhere', `?sigil%2Dinput=x&${tail}`],
    ['an encoded name in the signature position', '?sigil%2dinput=a&sigil=b'],
    ['bad percent-encoding in the value', '?sigil-input=%zz&sigil=b'],
    ['max-bytes twice', `?sigil-max-bytes=1&sigil-max-bytes=2&${tail}`],
    ['max-bytes not an integer', `?sigil-max-bytes=1e3&${tail}`],
    ['max-bytes negative', `?sigil-max-bytes=-1&${tail}`],
    ['once other than 1', `?sigil-once=yes&${tail}`],
    ['digest twice', `?sigil-content-digest=a&sigil-content-digest=b&${tail}`],
  ])('malformed: %s', (_name, query) => {
    expect(() => splitPresignedQuery(query)).toThrow(expect.objectContaining({ code: 'SIGNATURE_MALFORMED' }))
  })
  it('leaves names that only look alike in the covered query', () => {
    // `sigil%2Binput` decodes to `sigil+input`: another parameter, covered like any other.
    expect(splitPresignedQuery(`?sigil%2Binput=x&${tail}`)?.baseQuery).toBe('?sigil%2Binput=x')
  })
  it('reads what the signer bound', () => {
    const q = splitPresignedQuery(`?sigil-max-bytes=10&sigil-content-digest=sha-256%3D%3Aab%3D%3A&sigil-once=1&${tail}`)
    expect(q).toMatchObject({ maxBytes: 10, contentDigest: 'sha-256=:ab=:', once: true })
  })
})
