// Unit tests of the one structured-field parser; the differential property tests against the
// structured-headers library live in test/adversarial/parser-differential.test.ts.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SigilError } from './errors.js'
import { parseSignatures } from './signature-input.js'
import {
  Decimal,
  DisplayString,
  parseDictionary,
  parseItemField,
  parseShapedByteSequence,
  StructuredFieldError,
  serializeDictionary,
  serializeItem,
  Token,
} from './structured-fields.js'

const CANONICAL =
  'sig1=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1735689600;expires=1735689900;nonce="AAECAwQFBgcICQoLDA0ODw";keyid="k1";alg="hmac-sha256";tag="sigil"'

describe('parseSignatures', () => {
  it('keeps the received member bytes as @signature-params when they are canonical', () => {
    const [e] = parseSignatures(CANONICAL, 'sig1=:AAAA:')
    expect(e?.paramsValue).toBe(CANONICAL.slice(5))
    expect(e?.components.map((c) => c.id)).toEqual([
      '"@method"',
      '"@authority"',
      '"@path"',
      '"@query"',
      '"content-type"',
      '"content-digest"',
    ])
    expect(e?.params).toEqual({
      created: 1735689600,
      expires: 1735689900,
      nonce: 'AAECAwQFBgcICQoLDA0ODw',
      keyid: 'k1',
      alg: 'hmac-sha256',
      tag: 'sigil',
    })
  })

  it('re-serializes a member that is not canonical (extra spaces, `=?1`, leading zeros)', () => {
    const [e] = parseSignatures('sig1=(  "@method"   "@path" );created=01; keyid="k";x=?1', 'sig1=:AAAA:')
    expect(e?.paramsValue).toBe('("@method" "@path");created=1;keyid="k";x')
  })

  it('reuses the compiled component list for a repeated inner list, and stays correct for a different one', () => {
    const a = parseSignatures(CANONICAL, 'sig1=:AAAA:')[0]
    const b = parseSignatures(CANONICAL.replace('1735689600', '1735689601'), 'sig1=:AAAA:')[0]
    expect(b?.components).toBe(a?.components)
    const c = parseSignatures('sig1=("@method" "@path");created=1', 'sig1=:AAAA:')[0]
    expect(c?.components.map((x) => x.id)).toEqual(['"@method"', '"@path"'])
    // A list that merely starts like a cached one is parsed on its own.
    const d = parseSignatures('sig1=("@method" "@path" "@query");created=1', 'sig1=:AAAA:')[0]
    expect(d?.components.map((x) => x.id)).toEqual(['"@method"', '"@path"', '"@query"'])
  })

  it('rejects repeated labels and repeated parameters as SIGNATURE_MALFORMED', () => {
    for (const [input, sig] of [
      [`${CANONICAL}, ${CANONICAL}`, 'sig1=:AAAA:'],
      [CANONICAL, 'sig1=:AAAA:, sig1=:AAAA:'],
      ['sig1=("@method");x=a:b, sig1=("@path")', 'sig1=:AAAA:'],
      ['sig1=("@method");created=1;created=2', 'sig1=:AAAA:'],
    ] as const) {
      try {
        parseSignatures(input, sig)
        expect.unreachable()
      } catch (e) {
        expect(e).toBeInstanceOf(SigilError)
        expect((e as SigilError).code).toBe('SIGNATURE_MALFORMED')
        expect((e as Error).message).not.toContain('sig1=')
      }
    }
  })
})

describe('structured fields', () => {
  it('parses every bare item type and serializes it back', () => {
    const input = 'a=1, b=-1.5, c="x\\"y", d=tok:a/b, e=:AQID:, f=?0, g=@1735689600, h=%"%c3%a9", i, j=(1 2);p=1.0'
    const d = parseDictionary(input)
    expect(d.get('b')?.[0]).toEqual(new Decimal(-1.5))
    expect(d.get('d')?.[0]).toEqual(new Token('tok:a/b'))
    expect(d.get('e')?.[0]).toEqual(new Uint8Array([1, 2, 3]))
    expect(d.get('g')?.[0]).toEqual(new Date(1735689600_000))
    expect(d.get('h')?.[0]).toEqual(new DisplayString('é'))
    expect(d.get('i')?.[0]).toBe(true)
    expect(serializeDictionary(d)).toBe(input)
  })

  it('strict mode refuses a repeated key that the RFC would let the last one win', () => {
    expect(parseDictionary('a=1, a=2').get('a')?.[0]).toBe(2)
    expect(() => parseDictionary('a=1, a=2', { strict: true })).toThrow(/repeated key/)
    expect(() => parseDictionary('a=1;p;p', { strict: true })).toThrow(/repeated parameter/)
  })

  it('keeps a decimal a decimal and rounds to three digits when serializing', () => {
    const [v, p] = parseItemField('1.0;x=0.125')
    expect(serializeItem(v, p)).toBe('1.0;x=0.125')
    expect(serializeItem(0.0005)).toBe('0.0')
    expect(serializeItem(0.0015)).toBe('0.002')
  })

  it('parsed parameters without entries are shared and read-only', () => {
    const [, p] = parseItemField('1')
    expect(() => p.set('x', 1)).toThrow(TypeError)
  })
})

describe('byte sequences (forgiving base64, RFC 9651 §4.2.7)', () => {
  // The reference: padding optional, "=" only at the end, the standard alphabet only.
  const reference = (text: string): string | undefined => {
    const body = text.replace(/={1,2}$/, '')
    if (!/^[A-Za-z0-9+/]*$/.test(body) || body.length % 4 === 1) return undefined
    if (body.length !== text.length && text.length % 4 !== 0) return undefined
    return Buffer.from(body, 'base64').toString('hex')
  }
  const alphabet = [
    ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
    '=',
    '-',
    '_',
    ' ',
    '\u00ff',
    '\u0100',
    '\u4e00',
    'é',
  ]
  const text = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
    fc.array(fc.constantFrom(...alphabet), { maxLength: 50 }).map((cs) => cs.join('')),
  )

  it('the dictionary parser decodes what the reference decodes and refuses the rest; parseShapedByteSequence only the canonical text', () => {
    fc.assert(
      fc.property(text, (t) => {
        const want = reference(t)
        // The shaped path reads only the canonical text and leaves every other one to the full parse.
        const shaped = parseShapedByteSequence(`sig1=:${t}:`, 5)
        const canonical = want !== undefined && Buffer.from(want, 'hex').toString('base64') === t
        expect(shaped === undefined ? undefined : Buffer.from(shaped).toString('hex')).toBe(canonical ? want : undefined)
        let full: string | undefined
        try {
          full = Buffer.from(parseDictionary(`sig1=:${t}:`).get('sig1')?.[0] as Uint8Array).toString('hex')
        } catch (e) {
          expect(e).toBeInstanceOf(StructuredFieldError)
        }
        expect(full).toBe(want)
      }),
      { numRuns: 3000 },
    )
  })

  it('only the padded encoding without stray bits is canonical', () => {
    expect(serializeDictionary(parseDictionary('a=:QQ==:'))).toBe('a=:QQ==:')
    for (const t of ['QQ', 'QR==', 'QUI', 'QUJ=']) {
      const bytes = parseDictionary(`a=:${t}:`).get('a')?.[0] as Uint8Array
      expect(serializeDictionary(parseDictionary(`a=:${t}:`))).toBe(`a=:${Buffer.from(bytes).toString('base64')}:`)
    }
  })
})

describe('dates (RFC 9651 §3.3.7)', () => {
  it('parse within a JS Date range and refuse beyond it with the typed error', () => {
    expect((parseItemField('@8640000000000')[0] as Date).getTime()).toBe(8.64e15)
    expect((parseItemField('@-8640000000000')[0] as Date).getTime()).toBe(-8.64e15)
    expect(() => parseItemField('@8640000000001')).toThrow(StructuredFieldError)
    expect(() => parseDictionary('a=@-999999999999999')).toThrow(StructuredFieldError)
  })
})

describe('parseSignatures under shape churn', () => {
  it('reads every header as a full parse does while a sender varies its shapes past the compile budget', () => {
    const header = (i: number, created: number) =>
      `sig1=("@method" "x-h${i}");created=${created};nonce="n${i}";keyid="k1";alg="hmac-sha256";tag="sigil"`
    for (let i = 0; i < 20_000; i++) {
      const si = header(i % 500, 1735689600 + i)
      const [e] = parseSignatures(si, 'sig1=:AAAA:')
      const [full] = parseSignatures(` ${si}`, 'sig1=:AAAA:')
      if (i % 97 === 0 || e?.params.created !== 1735689600 + i) {
        expect(e?.params).toEqual(full?.params)
        expect(e?.paramsValue).toBe(full?.paramsValue)
        expect(e?.components.map((c) => c.id)).toEqual(['"@method"', `"x-h${i % 500}"`])
      }
    }
  })
})
