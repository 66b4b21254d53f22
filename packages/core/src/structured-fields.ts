// The one parser for Structured Field Values (RFC 9651, which obsoletes RFC 8941) in Sigil:
// Signature, Signature-Input, Content-Digest and the `sf`/`key` component flags all read through
// it. A cursor over the string with charCodeAt, no regular expressions, one Map per parameter set
// that has parameters. The `structured-headers` library is its differential oracle in tests
// (test/adversarial/parser-differential.test.ts).
//
// The Sigil profile (`strict`) is deliberately stricter than RFC 9651 in one way: a repeated
// dictionary key or parameter key fails instead of silently replacing the earlier value, since a
// shadowed Signature label or `created` is exactly what an attacker would hide.
import { VerificationError } from './errors.js'

/** A Token (RFC 9651 §3.3.4): kept apart from strings so it serializes without quotes. */
export class Token {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** A Display String (RFC 9651 §3.3.8): Unicode text, percent-encoded on the wire. */
export class DisplayString {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/**
 * A Decimal (RFC 9651 §3.3.2) as parsed. Parsing keeps the type so `1.0` re-serializes as `1.0`
 * (a plain number that is an integer serializes as an Integer).
 */
export class Decimal {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value
  }
}

/** A bare item: Integer (number), Decimal, String, Token, Byte Sequence, Boolean, Date, Display String. */
export type BareItem = number | Decimal | string | Token | Uint8Array | boolean | Date | DisplayString
/** Parameters, in order. */
export type Parameters = Map<string, BareItem>
/** An item and its parameters. */
export type Item = [BareItem, Parameters]
/** An inner list and its parameters. */
export type InnerList = [Item[], Parameters]
/** A Dictionary: members in order. */
export type Dictionary = Map<string, Item | InnerList>
/** A List. */
export type List = (Item | InnerList)[]

/** Thrown for input that is not a valid structured field; the message never quotes the input. */
export class StructuredFieldError extends Error {
  override name = 'StructuredFieldError'
}

/** True when a dictionary or list member is an inner list. */
export function isInnerList(member: Item | InnerList): member is InnerList {
  return Array.isArray(member[0])
}

/** Shared parameters of every item parsed without any: read-only, so sharing is safe. */
class NoParameters extends Map<string, BareItem> {
  override set(): this {
    throw new TypeError('parsed parameters are read-only')
  }
  override delete(): boolean {
    throw new TypeError('parsed parameters are read-only')
  }
  override clear(): void {
    throw new TypeError('parsed parameters are read-only')
  }
}
const NO_PARAMS: Parameters = new NoParameters()

/** The read-only parameters of every item parsed without any (and of every such component). */
export const EMPTY_PARAMETERS: ReadonlyMap<string, BareItem> = NO_PARAMS

/** Where each dictionary member's value starts and ends, and whether that text is already canonical. */
export interface MemberSpans {
  /** Flat triples: start, end, 1 when the member's text equals its strict serialization. */
  spans: number[]
}

/** Recently seen inner lists by their exact text (signers send the same few lists over and over). */
export interface InnerListCache {
  texts: string[]
  lists: Item[][]
  max: number
}

/** A bounded cache for {@link parseDictionary}: at most `max` inner lists, the oldest replaced first. */
export function createInnerListCache(max = 16): InnerListCache {
  return { texts: [], lists: [], max }
}

/** Options of {@link parseDictionary}. */
export interface ParseOptions {
  /** The Sigil profile: a repeated dictionary key or parameter key fails. */
  strict?: boolean
  /** Receives the text span of each member value. */
  spans?: MemberSpans
  /** Reuse parsed inner lists (shared, frozen item arrays). */
  innerLists?: InnerListCache
}

// Parser state: parsing is synchronous and never re-entered, so one cursor serves every call.
let s = ''
let i = 0
let canonical = true
let strict = false

const fail = (what: string): never => {
  throw new StructuredFieldError(`invalid structured field: ${what}`)
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39
const isLcAlpha = (c: number) => c >= 0x61 && c <= 0x7a
const isAlpha = (c: number) => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a)
const isKeyChar = (c: number) => isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a
// tchar (RFC 9110 §5.6.2) plus ':' and '/' (RFC 9651 §4.2.6).
const TOKEN_CHAR = new Uint8Array(128)
for (const ch of "!#$%&'*+-.^_`|~:/") TOKEN_CHAR[ch.charCodeAt(0)] = 1
for (let c = 0; c < 128; c++) if (isAlpha(c) || isDigit(c)) TOKEN_CHAR[c] = 1
const isTokenChar = (c: number) => c < 128 && TOKEN_CHAR[c] === 1

function begin(input: string, isStrict: boolean): void {
  s = input
  canonical = true
  strict = isStrict
  // Leading and trailing SP (not HTAB) are discarded (RFC 9651 §4.2).
  i = 0
  while (s.charCodeAt(i) === 0x20) i++
  let last = s.length
  while (last > i && s.charCodeAt(last - 1) === 0x20) last--
  if (last !== s.length) s = s.slice(0, last)
}

function end(): void {
  if (i !== s.length) fail('trailing characters')
  s = '' // no reference to the input outlives the call
}

function skipOws(): void {
  for (;;) {
    const c = s.charCodeAt(i)
    if (c !== 0x20 && c !== 0x09) return
    i++
  }
}

function parseKey(): string {
  const start = i
  const c = s.charCodeAt(i)
  if (!isLcAlpha(c) && c !== 0x2a) fail('key')
  i++
  while (i < s.length && isKeyChar(s.charCodeAt(i))) i++
  return s.slice(start, i)
}

function parseNumber(): number | Decimal {
  const start = i
  let neg = false
  if (s.charCodeAt(i) === 0x2d) {
    neg = true
    i++
  }
  const digitsStart = i
  if (!isDigit(s.charCodeAt(i))) fail('number')
  let dot = -1
  while (i < s.length) {
    const c = s.charCodeAt(i)
    if (isDigit(c)) i++
    else if (c === 0x2e && dot < 0) {
      if (i - digitsStart > 12) fail('decimal')
      dot = i
      i++
    } else break
    if (dot < 0 ? i - digitsStart > 15 : i - digitsStart > 16) fail('number too long')
  }
  if (dot < 0) {
    const n = Number(s.slice(digitsStart, i))
    // Canonical: no leading zero, no "-0".
    if ((s.charCodeAt(digitsStart) === 0x30 && i - digitsStart > 1) || (neg && n === 0)) canonical = false
    return neg ? -n : n
  }
  const fraction = i - dot - 1
  if (fraction === 0 || fraction > 3) fail('decimal')
  const text = s.slice(start, i)
  const d = new Decimal(Number(text))
  if (canonical && serializeDecimal(d.value) !== text) canonical = false
  return d
}

function parseString(): string {
  const start = ++i
  let out: string | undefined
  let from = start
  for (;;) {
    if (i >= s.length) fail('unterminated string')
    const c = s.charCodeAt(i)
    if (c === 0x22) break
    if (c === 0x5c) {
      const next = s.charCodeAt(i + 1)
      if (next !== 0x22 && next !== 0x5c) fail('string escape')
      out = (out ?? '') + s.slice(from, i)
      from = i + 1
      i += 2
      continue
    }
    if (c < 0x20 || c > 0x7e) fail('string character')
    i++
  }
  const value = out === undefined ? s.slice(start, i) : out + s.slice(from, i)
  i++
  return value
}

function parseToken(): Token {
  const start = i++
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++
  return new Token(s.slice(start, i))
}

const B64 = new Int8Array(128).fill(-1)
const B64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
for (let k = 0; k < 64; k++) B64[B64_CHARS.charCodeAt(k)] = k

/** Set by {@link decodeBase64}: the last character had bits left over (not the canonical encoding). */
let strayBits = false

/**
 * Base64 of `str` from `start`, `len` characters without the padding (`len % 4 !== 1`, checked by
 * the callers), or undefined for a character outside the alphabet. Four characters per step, in
 * locals: the signature and digest of every request go through here.
 */
function decodeBase64(str: string, start: number, len: number): Uint8Array | undefined {
  const out = new Uint8Array((len * 3) >> 2)
  const full = start + (len & ~3)
  let o = 0
  let k = start
  for (; k < full; k += 4) {
    const c0 = str.charCodeAt(k)
    const c1 = str.charCodeAt(k + 1)
    const c2 = str.charCodeAt(k + 2)
    const c3 = str.charCodeAt(k + 3)
    if ((c0 | c1 | c2 | c3) > 127) return undefined
    // A character outside the alphabet is -1, which makes the whole group negative.
    const n = ((B64[c0] as number) << 18) | ((B64[c1] as number) << 12) | ((B64[c2] as number) << 6) | (B64[c3] as number)
    if (n < 0) return undefined
    out[o++] = n >> 16
    out[o++] = (n >> 8) & 0xff
    out[o++] = n & 0xff
  }
  const rest = len & 3
  strayBits = false
  if (rest !== 0) {
    const c0 = str.charCodeAt(k)
    const c1 = str.charCodeAt(k + 1)
    const c2 = rest === 3 ? str.charCodeAt(k + 2) : 0x41 /* A: 0 */
    if ((c0 | c1 | c2) > 127) return undefined
    const n = ((B64[c0] as number) << 18) | ((B64[c1] as number) << 12) | ((B64[c2] as number) << 6)
    if (n < 0) return undefined
    out[o++] = n >> 16
    if (rest === 3) out[o++] = (n >> 8) & 0xff
    strayBits = (n & (rest === 3 ? 0xff : 0xffff)) !== 0
  }
  return out
}

/**
 * The unpadded length of the base64 text in `str` between `start` and `close`: -1 when its
 * padding is wrong, -2 when no base64 has that length. Forgiving base64 (what atob and the oracle accept): padding optional, "=" only
 * at the end; `padded` tells whether the text was padded to a multiple of 4.
 */
function base64Length(str: string, start: number, close: number): number {
  let len = close - start
  let pad = 0
  while (pad < 2 && len > 0 && str.charCodeAt(start + len - 1) === 0x3d) {
    len--
    pad++
  }
  if (pad > 0 && (len + pad) % 4 !== 0) return -1
  if (len % 4 === 1) return -2
  padded = (len + pad) % 4 === 0
  return len
}
let padded = false

function parseByteSequence(): Uint8Array {
  const start = ++i
  const close = s.indexOf(':', start)
  if (close < 0) fail('unterminated byte sequence')
  const len = base64Length(s, start, close)
  if (len < 0) fail(len === -1 ? 'byte sequence padding' : 'byte sequence length')
  const out = decodeBase64(s, start, len) ?? fail('byte sequence character')
  // Canonical: padded to a multiple of 4, no stray bits in the last character.
  if (canonical && (!padded || strayBits)) canonical = false
  i = close + 1
  return out
}

function parseDisplayString(): DisplayString {
  if (s.charCodeAt(i + 1) !== 0x22) fail('display string')
  i += 2
  const bytes: number[] = []
  for (;;) {
    if (i >= s.length) fail('unterminated display string')
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) fail('display string character')
    if (c === 0x22) break
    if (c === 0x25) {
      const h = hex(s.charCodeAt(i + 1))
      const l = hex(s.charCodeAt(i + 2))
      if (h < 0 || l < 0) fail('display string escape')
      bytes.push((h << 4) | l)
      i += 3
      continue
    }
    bytes.push(c)
    i++
  }
  i++
  let value: string
  try {
    value = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes))
  } catch {
    return fail('display string encoding')
  }
  return new DisplayString(value)
}

// Lower-case hex only (RFC 9651 §4.2.10).
function hex(c: number): number {
  if (isDigit(c)) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

const MAX_DATE_SECONDS = 8_640_000_000_000

function parseBareItem(): BareItem {
  const c = s.charCodeAt(i)
  if (c === 0x2d || isDigit(c)) return parseNumber()
  if (c === 0x22) return parseString()
  if (c === 0x2a || isAlpha(c)) return parseToken()
  if (c === 0x3a) return parseByteSequence()
  if (c === 0x3f) {
    const b = s.charCodeAt(i + 1)
    if (b !== 0x30 && b !== 0x31) fail('boolean')
    i += 2
    return b === 0x31
  }
  if (c === 0x40) {
    i++
    const n = parseNumber()
    if (typeof n !== 'number') fail('date')
    // A JS Date holds ±8.64e15 ms: a Date beyond that is refused, not parsed to an Invalid Date.
    if (Math.abs(n as number) > MAX_DATE_SECONDS) fail('date out of range')
    return new Date((n as number) * 1000)
  }
  if (c === 0x25) return parseDisplayString()
  return fail('item')
}

function parseParameters(): Parameters {
  if (s.charCodeAt(i) !== 0x3b) return NO_PARAMS
  const params: Parameters = new Map()
  while (s.charCodeAt(i) === 0x3b) {
    i++
    if (s.charCodeAt(i) === 0x20) {
      canonical = false
      while (s.charCodeAt(i) === 0x20) i++
    }
    const key = parseKey()
    let value: BareItem = true
    if (s.charCodeAt(i) === 0x3d) {
      i++
      value = parseBareItem()
      if (value === true) canonical = false // `;a=?1` serializes as `;a`
    }
    if (params.has(key)) {
      if (strict) fail('repeated parameter')
      canonical = false
    }
    params.set(key, value)
  }
  return params
}

function parseItem(): Item {
  const value = parseBareItem()
  return [value, parseParameters()]
}

function parseInnerListItems(cache: InnerListCache | undefined): Item[] {
  const start = i
  if (cache) {
    for (let k = 0; k < cache.texts.length; k++) {
      const t = cache.texts[k] as string
      // An inner list ends at its own ")": text that parsed once parses the same way again.
      if (s.startsWith(t, start)) {
        i = start + t.length
        return cache.lists[k] as Item[]
      }
    }
  }
  const wasCanonical = canonical
  canonical = true
  i++ // past "("
  const items: Item[] = []
  for (;;) {
    let sp = 0
    while (s.charCodeAt(i) === 0x20) {
      i++
      sp++
    }
    if (s.charCodeAt(i) === 0x29) {
      if (sp) canonical = false // no SP after "(" or before ")"
      i++
      break
    }
    if (i >= s.length) fail('unterminated inner list')
    if (items.length === 0) {
      if (sp) canonical = false
    } else if (sp !== 1) {
      if (sp === 0) fail('inner list separator')
      canonical = false
    }
    items.push(parseItem())
    const c = s.charCodeAt(i)
    if (c !== 0x20 && c !== 0x29) fail('inner list separator')
  }
  if (cache && canonical && i - start <= 1024) {
    // Canonical lists only, so a hit never hides a non-canonical text; frozen, since shared.
    for (const item of items) Object.freeze(item)
    Object.freeze(items)
    if (cache.texts.length >= cache.max) {
      cache.texts.shift()
      cache.lists.shift()
    }
    cache.texts.push(s.slice(start, i))
    cache.lists.push(items)
  }
  canonical = canonical && wasCanonical
  return items
}

function parseMember(cache?: InnerListCache): Item | InnerList {
  if (s.charCodeAt(i) === 0x28) {
    const items = parseInnerListItems(cache)
    return [items, parseParameters()]
  }
  return parseItem()
}

function afterMember(): void {
  const before = i
  skipOws()
  if (i === s.length) return
  if (s.charCodeAt(i) !== 0x2c) fail('member separator')
  if (i !== before) canonical = false
  i++
  const after = i
  skipOws()
  if (i - after !== 1 || s.charCodeAt(after) !== 0x20) canonical = false
  if (i === s.length) fail('trailing comma')
}

/** Parse a Dictionary field value (RFC 9651 §4.2.2). Throws {@link StructuredFieldError}. */
export function parseDictionary(input: string, options: ParseOptions = {}): Dictionary {
  begin(input, options.strict === true)
  const dict: Dictionary = new Map()
  const spans = options.spans?.spans
  const cache = options.innerLists
  while (i < s.length) {
    const key = parseKey()
    let member: Item | InnerList
    const wasCanonical = canonical
    canonical = true
    let start = i
    if (s.charCodeAt(i) === 0x3d) {
      start = ++i
      member = parseMember(cache)
      if (member[0] === true) canonical = false // `a=?1` serializes as `a`
    } else {
      member = [true, parseParameters()]
    }
    if (dict.has(key)) {
      if (strict) fail('repeated key')
      canonical = false
    }
    spans?.push(start, i, canonical ? 1 : 0)
    canonical = canonical && wasCanonical
    dict.set(key, member)
    afterMember()
  }
  end()
  return dict
}

/**
 * Parse a Dictionary field under a length limit; `strict` is the Sigil profile (a repeated key or
 * parameter key fails). Errors are `SIGNATURE_MALFORMED` and never echo the input.
 */
export function parseDictionaryLimited(value: string, maxBytes: number, field: string, strict = false): Dictionary {
  if (value.length > maxBytes) throw new VerificationError('SIGNATURE_MALFORMED', `${field} exceeds ${maxBytes} bytes`)
  try {
    return parseDictionary(value, { strict })
  } catch (e) {
    if (!(e instanceof StructuredFieldError)) throw e
    throw new VerificationError('SIGNATURE_MALFORMED', `${field} is not a valid structured dictionary`)
  }
}

/**
 * The Byte Sequence of a field that is one member `key=:…:` without parameters, where `from` is
 * the length of `key=` (checked by the caller); undefined for any other text (parse it in full).
 */
export function parseShapedByteSequence(input: string, from: number): Uint8Array | undefined {
  const close = input.length - 1
  if (input.charCodeAt(from) !== 0x3a || close <= from || input.indexOf(':', from + 1) !== close) return undefined
  const len = base64Length(input, from + 1, close)
  if (len < 0) return undefined
  const out = decodeBase64(input, from + 1, len)
  // Only the canonical text (padded, no stray bits): anything else is parsed in full.
  return out && padded && !strayBits ? out : undefined
}

/** Parse a List field value (RFC 9651 §4.2.1). */
export function parseList(input: string): List {
  begin(input, false)
  const list: List = []
  while (i < s.length) {
    list.push(parseMember())
    afterMember()
  }
  end()
  return list
}

/** Parse an Item field value (RFC 9651 §4.2.3). */
export function parseItemField(input: string): Item {
  begin(input, false)
  const item = parseItem()
  end()
  return item
}

// ---- Serialization (RFC 9651 §4.1) ----

/** Thrown for a value that has no structured-field serialization. */
export class StructuredFieldSerializeError extends Error {
  override name = 'StructuredFieldSerializeError'
}

const cannot = (what: string): never => {
  throw new StructuredFieldSerializeError(`cannot serialize ${what}`)
}

/** Serialize a key. */
export function serializeKey(key: string): string {
  const c = key.charCodeAt(0)
  if (!isLcAlpha(c) && c !== 0x2a) cannot('key')
  for (let k = 1; k < key.length; k++) if (!isKeyChar(key.charCodeAt(k))) cannot('key')
  return key
}

/** Serialize an Integer (±999,999,999,999,999). */
export function serializeInteger(n: number): string {
  if (!Number.isInteger(n) || n < -999_999_999_999_999 || n > 999_999_999_999_999) cannot('integer')
  return Object.is(n, -0) ? '0' : String(n)
}

/** Serialize a Decimal: at most 12 integer digits, rounded to 3 fraction digits (half to even). */
export function serializeDecimal(n: number): string {
  if (!Number.isFinite(n)) cannot('decimal')
  const scaled = n * 1000
  let r = Math.round(scaled)
  if (Math.abs(scaled - Math.trunc(scaled)) === 0.5 && r % 2 !== 0) r -= Math.sign(scaled) // half to even
  const neg = r < 0
  const abs = Math.abs(r)
  const int = Math.floor(abs / 1000)
  if (int > 999_999_999_999) cannot('decimal')
  let frac = String(abs % 1000).padStart(3, '0')
  while (frac.length > 1 && frac.endsWith('0')) frac = frac.slice(0, -1)
  return `${neg && abs !== 0 ? '-' : ''}${int}.${frac}`
}

/** Serialize a String (printable ASCII only). */
export function serializeString(v: string): string {
  let plain = true
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k)
    if (c < 0x20 || c > 0x7e) cannot('string')
    if (c === 0x22 || c === 0x5c) plain = false
  }
  if (plain) return `"${v}"`
  let out = '"'
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k)
    out += c === 0x22 || c === 0x5c ? `\\${v[k]}` : v[k]
  }
  return `${out}"`
}

/** Serialize a Token. */
export function serializeToken(t: Token): string {
  const v = t.value
  const c = v.charCodeAt(0)
  if (!isAlpha(c) && c !== 0x2a) cannot('token')
  for (let k = 1; k < v.length; k++) if (!isTokenChar(v.charCodeAt(k))) cannot('token')
  return v
}

const b64 = (n: number) => B64_CHARS.charAt(n)

/** Serialize a Byte Sequence (padded base64). */
export function serializeByteSequence(bytes: Uint8Array): string {
  let out = ':'
  let k = 0
  for (; k + 2 < bytes.length; k += 3) {
    const n = ((bytes[k] as number) << 16) | ((bytes[k + 1] as number) << 8) | (bytes[k + 2] as number)
    out += b64(n >> 18) + b64((n >> 12) & 63) + b64((n >> 6) & 63) + b64(n & 63)
  }
  const rest = bytes.length - k
  if (rest === 1) {
    const n = (bytes[k] as number) << 16
    out += `${b64(n >> 18)}${b64((n >> 12) & 63)}==`
  } else if (rest === 2) {
    const n = ((bytes[k] as number) << 16) | ((bytes[k + 1] as number) << 8)
    out += `${b64(n >> 18)}${b64((n >> 12) & 63)}${b64((n >> 6) & 63)}=`
  }
  return `${out}:`
}

/** Serialize a Display String (UTF-8, percent-encoding `%`, `"` and non-printable bytes). */
export function serializeDisplayString(d: DisplayString): string {
  const bytes = new TextEncoder().encode(d.value)
  let out = '%"'
  for (const b of bytes) {
    if (b === 0x25 || b === 0x22 || b < 0x20 || b > 0x7e) out += `%${b.toString(16).padStart(2, '0')}`
    else out += String.fromCharCode(b)
  }
  return `${out}"`
}

/** Serialize a bare item. */
export function serializeBareItem(v: BareItem): string {
  if (typeof v === 'number') return Number.isInteger(v) ? serializeInteger(v) : serializeDecimal(v)
  if (typeof v === 'string') return serializeString(v)
  if (typeof v === 'boolean') return v ? '?1' : '?0'
  if (v instanceof Decimal) return serializeDecimal(v.value)
  if (v instanceof Token) return serializeToken(v)
  if (v instanceof Uint8Array) return serializeByteSequence(v)
  if (v instanceof Date) return `@${serializeInteger(Math.floor(v.getTime() / 1000))}`
  if (v instanceof DisplayString) return serializeDisplayString(v)
  return cannot('value')
}

/** Serialize parameters (`;key` for true, else `;key=value`). */
export function serializeParameters(params: ReadonlyMap<string, BareItem>): string {
  let out = ''
  for (const [k, v] of params) out += v === true ? `;${serializeKey(k)}` : `;${serializeKey(k)}=${serializeBareItem(v)}`
  return out
}

/** Serialize an item with its parameters. */
export function serializeItem(value: BareItem, params: ReadonlyMap<string, BareItem> = NO_PARAMS): string {
  return serializeBareItem(value) + serializeParameters(params)
}

/** Serialize an inner list with its parameters. */
export function serializeInnerList(list: InnerList): string {
  let out = '('
  const items = list[0]
  for (let k = 0; k < items.length; k++) {
    const item = items[k] as Item
    out += (k ? ' ' : '') + serializeItem(item[0], item[1])
  }
  return `${out})${serializeParameters(list[1])}`
}

function serializeMember(m: Item | InnerList): string {
  return isInnerList(m) ? serializeInnerList(m) : serializeItem(m[0], m[1])
}

/** Serialize a Dictionary. */
export function serializeDictionary(dict: Dictionary): string {
  let out = ''
  for (const [k, m] of dict) {
    if (out) out += ', '
    out += serializeKey(k)
    out += !isInnerList(m) && m[0] === true ? serializeParameters(m[1]) : `=${serializeMember(m)}`
  }
  return out
}

/** Serialize a List. */
export function serializeList(list: List): string {
  let out = ''
  for (const m of list) out += (out ? ', ' : '') + serializeMember(m)
  return out
}
