import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SigilError } from './errors.js'
import { DEFAULT_LIMITS, parseSignatures, parseSignaturesWithLibrary, type SignatureLimits } from './signature-input.js'

const runs = Number(process.env.SIGIL_FUZZ_RUNS ?? 2000)

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string }

function outcome(f: () => unknown): Outcome {
  try {
    const entries = f() as ReturnType<typeof parseSignatures>
    return {
      ok: true,
      value: entries.map((e) => ({
        ...e,
        components: e.components.map((c) => ({ name: c.name, id: c.id, params: [...c.params] })),
        raw: [...e.raw],
        signature: [...e.signature],
      })),
    }
  } catch (e) {
    if (!(e instanceof SigilError)) throw e
    return { ok: false, code: e.code, message: e.message }
  }
}

function same(input: string, sig: string, limits: SignatureLimits = DEFAULT_LIMITS): void {
  expect(outcome(() => parseSignatures(input, sig, limits))).toEqual(outcome(() => parseSignaturesWithLibrary(input, sig, limits)))
}

// Pieces chosen to sit on both sides of every fast-path boundary.
const label = fc.constantFrom('sig1', 'sig2', 'a', '*x', 'sig-b', 'Sig1', '1a', 'sig1')
const comp = fc.constantFrom(
  '"@method"',
  '"@authority"',
  '"@path"',
  '"@query"',
  '"content-type"',
  '"content-digest"',
  '"Content-Type"',
  '"@unknown"',
  '"@query-param";name="a"',
  '"content-digest";sf',
  '"x\\"y"',
  '"a b"',
  '"é"',
  'token',
  '""',
  '"@method";req',
)
const intText = fc.oneof(
  fc.integer({ min: -1e15 + 1, max: 1e15 - 1 }).map(String),
  fc.constantFrom('0', '-0', '01', '007', '1.5', '9999999999999999', '-', '1735689600'),
)
const strText = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"hmac-sha256"', '"sigil"', '"a\\\\b"', '"tab\there"', '"' + 'n'.repeat(300) + '"'),
)
const param = fc.oneof(
  fc.tuple(fc.constantFrom('created', 'expires'), intText).map(([k, v]) => `;${k}=${v}`),
  fc.tuple(fc.constantFrom('nonce', 'keyid', 'alg', 'tag', 'x'), strText).map(([k, v]) => `;${k}=${v}`),
  fc.constantFrom(';flag', ';tok=abc', ';b=?1', ';bs=:AAA=:', ';d=@1', '; created=1', ';Created=1', ';created=1;created=2'),
)
const sep = fc.constantFrom(' ', ' ', ' ', '  ', '\t')
const innerList = fc
  .tuple(fc.array(comp, { maxLength: 7 }), sep, fc.constantFrom('', '', ' '))
  .map(([cs, s, pad]) => `(${pad}${cs.join(s)})`)
const inputMember = fc.tuple(label, innerList, fc.array(param, { maxLength: 7 })).map(([l, il, ps]) => `${l}=${il}${ps.join('')}`)
const b64 = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
  fc.constantFrom('QQ', 'QR==', 'A=A=', '====', '', 'AAAA+/+/', 'a-_b'),
)
const sigMember = fc.oneof(
  fc.tuple(label, b64).map(([l, b]) => `${l}=:${b}:`),
  fc.constantFrom('sig1=:AAAA:;x', 'sig1=("a")', 'sig1', 'sig1=?1'),
)
const joiner = fc.constantFrom(', ', ', ', ',', ',  ', ' , ', ',\t', ', ,')
const dict = (member: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.array(member, { minLength: 0, maxLength: 4 }), joiner, fc.constantFrom('', '', ' ', '\t'), fc.constantFrom('', '', ' ', ','))
    .map(([ms, j, lead, trail]) => lead + ms.join(j) + trail)

describe('fast Signature-Input / Signature parser', () => {
  it('agrees with the structured-headers library on generated dictionaries', () => {
    fc.assert(
      fc.property(dict(inputMember), dict(sigMember), (input, sig) => same(input, sig)),
      { numRuns: runs },
    )
  })

  it('agrees when labels pair up (the accepting paths)', () => {
    const paired = fc
      .array(fc.tuple(fc.constantFrom('sig1', 'sig2', 'a', 'b'), innerList, fc.array(param, { maxLength: 6 }), b64), {
        minLength: 1,
        maxLength: 3,
      })
      .map((ms) => [ms.map(([l, il, ps]) => `${l}=${il}${ps.join('')}`).join(', '), ms.map(([l, , , b]) => `${l}=:${b}:`).join(', ')])
    fc.assert(
      fc.property(paired, ([input, sig]) => same(input as string, sig as string)),
      { numRuns: runs },
    )
  })

  it('agrees under tight limits', () => {
    const limits = { maxHeaderBytes: 120, maxSignatures: 1, maxComponents: 2, maxParamLength: 16 }
    fc.assert(
      fc.property(dict(inputMember), dict(sigMember), (input, sig) => same(input, sig, limits)),
      { numRuns: runs },
    )
  })

  it('agrees on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 40 }), (input, sig) => same(input, sig)),
      { numRuns: runs },
    )
  })

  it('takes the canonical Sigil shape and keeps the member bytes as @signature-params', () => {
    const input =
      'sig1=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1735689600;expires=1735689900;nonce="AAECAwQFBgcICQoLDA0ODw";keyid="k1";alg="hmac-sha256";tag="sigil"'
    const [e] = parseSignatures(input, 'sig1=:AAAA:')
    expect(e?.paramsValue).toBe(input.slice(5))
    same(input, 'sig1=:AAAA:')
    same(input, 'sig1=:AAAA:, sig1=:AAAA:')
    same(`${input}, ${input}`, 'sig1=:AAAA:')
  })
})
