import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RFC9421, SIGIL_V1, secretOf, vectorRequest } from '../../../test/vectors/load.js'
import { type Component, component } from './components.js'
import { ComponentError } from './errors.js'
import { type ResponseMessage, requestFromFetch } from './message.js'
import { signMessage, verifyMessageSignature } from './sign.js'
import { componentValue, signatureBase } from './signature-base.js'
import { parseSignatures } from './signature-input.js'

describe('RFC 9421 Appendix B.2 vectors', () => {
  for (const v of RFC9421) {
    it(`${v.name} — signature base is byte-exact (${v.source})`, async () => {
      const message =
        v.message === 'request'
          ? requestFromFetch(vectorRequest(v.request!))
          : ({ status: v.response!.status, headers: new Headers(v.response!.headers) } satisfies ResponseMessage)
      const sigValue = v.signature ?? `${v.signatureInput.split('=')[0]}=:AAAA:`
      const [entry] = parseSignatures(v.signatureInput, sigValue)
      expect(signatureBase(message, entry!.components, entry!.paramsValue)).toBe(v.base)
      if (v.signature && v.secretBase64) {
        const { ok } = await verifyMessageSignature(message, entry!, secretOf(v.secretBase64))
        expect(ok).toBe(true)
      }
    })
  }
})

describe('sigil v1 vectors', () => {
  for (const v of SIGIL_V1) {
    it(`${v.name} — signs to the known answer`, async () => {
      const req = vectorRequest(v.request)
      const headers = new Headers(req.headers)
      const message = { ...requestFromFetch(req), headers }
      const components =
        v.request.body !== undefined
          ? ['@method', '@authority', '@path', '@query', ...(headers.has('content-type') ? ['content-type'] : []), 'content-digest']
          : ['@method', '@authority', '@path', '@query']
      const signed = await signMessage(message, {
        keyId: v.keyId,
        secret: secretOf(v.secretBase64),
        components: components.map((c) => component(c)),
        created: v.created,
        nonce: v.nonce,
        ...(v.expiresIn ? { expiresInMs: v.expiresIn * 1000 } : {}),
      })
      expect(signed.base).toBe(v.base)
      expect(signed.signatureInput).toBe(v.signatureInput)
      expect(signed.signature).toBe(v.signature)
    })
  }
})

describe('derived components', () => {
  const req = requestFromFetch(new Request('https://www.example.com/path?param=value&foo=bar&baz=batman&qux='))
  it('@query-param follows RFC 9421 §2.2.8', () => {
    expect(componentValue(req, component('@query-param', { name: 'baz' }))).toBe('batman')
    expect(componentValue(req, component('@query-param', { name: 'qux' }))).toBe('')
    const enc = requestFromFetch(
      new Request(
        'https://www.example.com/parameters?var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something',
      ),
    )
    expect(componentValue(enc, component('@query-param', { name: 'var' }))).toBe('this%20is%20a%20big%0Amultiline%20value')
    expect(componentValue(enc, component('@query-param', { name: 'bar' }))).toBe('with%20plus%20whitespace')
    expect(componentValue(enc, component('@query-param', { name: 'fa%C3%A7ade%22%3A%20' }))).toBe('something')
  })
  it('@query-param rejects missing and repeated names', () => {
    const r = requestFromFetch(new Request('https://h/p?a=1&a=2'))
    expect(() => componentValue(r, component('@query-param', { name: 'a' }))).toThrow(ComponentError)
    expect(() => componentValue(r, component('@query-param', { name: 'b' }))).toThrow(ComponentError)
  })
  it('@target-uri, @request-target, @scheme, @query', () => {
    const r = requestFromFetch(new Request('https://WWW.Example.com:443/a/b?x=1'))
    expect(componentValue(r, component('@target-uri'))).toBe('https://www.example.com/a/b?x=1')
    expect(componentValue(r, component('@request-target'))).toBe('/a/b?x=1')
    expect(componentValue(r, component('@scheme'))).toBe('https')
    expect(componentValue(requestFromFetch(new Request('http://h:8080/')), component('@query'))).toBe('?')
    expect(componentValue(requestFromFetch(new Request('http://h:8080/')), component('@authority'))).toBe('h:8080')
  })
  it('sf, key and bs flags (RFC 9421 §2.1)', () => {
    const headers = new Headers({ 'example-dict': ' a=1,    b=2;x=1;y=2,   c=(a   b   c), d' })
    const m = { ...req, headers }
    expect(componentValue(m, component('example-dict', { sf: true }))).toBe('a=1, b=2;x=1;y=2, c=(a b c), d')
    expect(componentValue(m, component('example-dict', { key: 'c' }))).toBe('(a b c)')
    expect(componentValue(m, component('example-dict', { key: 'd' }))).toBe('?1')
    expect(componentValue(m, component('example-dict', { key: 'b' }))).toBe('2;x=1;y=2')
    const multi = { ...req, headers: { get: () => 'value, with, lots, of, commas', getAll: () => ['value, with, lots', 'of, commas'] } }
    expect(componentValue(multi, component('example-header', { bs: true }))).toBe(':dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:')
  })
  it('req flag reads the related request in a response', () => {
    const res: ResponseMessage = { status: 201, headers: new Headers(), request: req }
    expect(componentValue(res, component('@method', { req: true }))).toBe('GET')
    expect(componentValue(res, component('@status'))).toBe('201')
    expect(() => componentValue(req, component('@method', { req: true }))).toThrow(ComponentError)
  })
  it('refuses a component covered twice and non-ASCII values', () => {
    expect(() => signatureBase(req, [component('@path'), component('@path')], '()')).toThrow(ComponentError)
    const m = { ...req, headers: new Headers({ 'x-u': 'caf\u00e9' }) }
    expect(() => signatureBase(m, [component('x-u')], '()')).toThrow(ComponentError)
  })
})

describe('compiled component lists (frozen lists are compiled once)', () => {
  const pool = [
    component('@method'),
    component('@authority'),
    component('@path'),
    component('@query'),
    component('@scheme'),
    component('@target-uri'),
    component('@request-target'),
    component('@status'),
    component('@query-param', { name: 'a' }),
    component('@method', { req: true }),
    component('content-type'),
    component('x-u'),
    component('x-missing'),
    component('example-dict', { sf: true }),
    component('example-dict', { key: 'b' }),
    component('example-dict'),
  ]
  const request = {
    ...requestFromFetch(new Request('https://WWW.Example.com:8443/a/b?a=1&c=2')),
    headers: new Headers({ 'content-type': 'text/plain', 'x-u': 'caf\u00e9', 'example-dict': 'a=1,   b=2;x=1' }),
  }
  const messages = [
    request,
    { ...request, query: '' },
    { ...request, headers: new Headers({ 'content-type': 'a\tb', 'example-dict': 'b=3' }) },
    // Raw values a Headers object would refuse: LF, CR, NUL, non-ASCII.
    ...['a\nb', '\n', 'a\r', '\u0000', '\u{1f600}', 'ok\t', ''].map((v) => ({
      ...request,
      headers: { get: (n: string) => (n === 'x-u' || n === 'content-type' ? v : null) },
    })),
    { status: 200, headers: new Headers({ 'content-type': 'text/plain' }), request } satisfies ResponseMessage,
    { status: 200, headers: new Headers() } satisfies ResponseMessage,
  ]
  const outcome = (f: () => string) => {
    try {
      return { base: f() }
    } catch (e) {
      return { error: (e as Error).constructor.name, message: (e as Error).message }
    }
  }

  it('give the base (or the error) an unfrozen copy of the same list gives, for any list and message', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pool), { maxLength: 6 }),
        fc.constantFrom(...messages),
        fc.constantFrom('("x");created=1', '("x");a="\n"', 'caf\u00e9'),
        (list, m, pv) => {
          const frozen = Object.freeze([...list])
          const want = outcome(() => signatureBase(m, [...list], pv))
          // Twice: compiled on first use, then read from the compiled form.
          expect(outcome(() => signatureBase(m, frozen, pv))).toEqual(want)
          expect(outcome(() => signatureBase(m, frozen, pv))).toEqual(want)
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('and so do a few frozen lists used over and over with changing messages (values remembered as checked)', () => {
    const lists = [
      ['@method', '@authority', '@scheme', 'content-type', 'content-digest'],
      ['content-type', 'x-u', '@method'],
      ['@authority', 'content-digest', '@path', '@query'],
    ].map((names) => Object.freeze(names.map((n) => component(n))))
    const value = fc.constantFrom('application/json', 'a\nb', 'caf\u00e9', '', 'x\ty', '\u0000', 'sha-256=:AAAA:')
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(lists.length - 1), value, value, fc.constantFrom('GET', 'P\u00d6ST', 'PO\nST', 'POST')), {
          minLength: 1,
          maxLength: 8,
        }),
        (calls) => {
          for (const [l, type, digest, method] of calls) {
            const list = lists[l] as readonly Component[]
            const headers = { get: (n: string) => (n === 'content-type' ? type : n === 'content-digest' || n === 'x-u' ? digest : null) }
            const m = { ...request, method, headers }
            expect(outcome(() => signatureBase(m, list, '()'))).toEqual(outcome(() => signatureBase(m, [...list], '()')))
          }
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('components are frozen, and one without parameters has the read-only empty set', () => {
    const c = component('content-type')
    expect(Object.isFrozen(c)).toBe(true)
    expect(() => (c.params as Map<string, unknown>).set('sf', true)).toThrow(TypeError)
    expect(Object.isFrozen(component('@query-param', { name: 'a' }))).toBe(true)
  })
})
