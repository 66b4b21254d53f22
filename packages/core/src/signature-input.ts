import { type Component, fromItem } from './components.js'
import { ComponentError, VerificationError } from './errors.js'
import {
  type BareItem,
  createInnerListCache,
  type Dictionary,
  type InnerList,
  type Item,
  isInnerList,
  type MemberSpans,
  type Parameters,
  parseDictionary,
  parseShapedByteSequence,
  StructuredFieldError,
  serializeBareItem,
  serializeInnerList,
  serializeKey,
  Token,
} from './structured-fields.js'

/** Parser limits; every one is a clean `SIGNATURE_MALFORMED` when exceeded. */
export interface SignatureLimits {
  /** Max length of `Signature-Input` and of `Signature`. Default 8192. */
  maxHeaderBytes: number
  /** Max labels (signatures) per message. Default 8. */
  maxSignatures: number
  /** Max covered components per signature. Default 32. */
  maxComponents: number
  /** Max length of any string parameter (keyid, nonce, tag). Default 256. */
  maxParamLength: number
}

/** The limits verify() uses unless told otherwise. */
export const DEFAULT_SIGNATURE_LIMITS: SignatureLimits = Object.freeze({
  maxHeaderBytes: 8192,
  maxSignatures: 8,
  maxComponents: 32,
  maxParamLength: 256,
})

/** The parameters of RFC 9421 §2.3 (others are kept in `raw`). */
export interface SignatureParams {
  created?: number
  expires?: number
  nonce?: string
  keyid?: string
  alg?: string
  tag?: string
}

/** One signature found in a message: label, what it covers, its parameters and its bytes. */
export interface SignatureEntry {
  label: string
  components: readonly Component[]
  params: SignatureParams
  /** All parameters as received, in order. */
  raw: Parameters
  /** The `@signature-params` value: the strict serialization of the received inner list. */
  paramsValue: string
  signature: Uint8Array
}

function readParam(out: SignatureParams, k: string, v: BareItem, limits: SignatureLimits): void {
  switch (k) {
    case 'created':
    case 'expires':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new VerificationError('SIGNATURE_MALFORMED', `${k} must be an integer`)
      out[k] = v
      break
    case 'nonce':
    case 'keyid':
    case 'alg':
    case 'tag':
      if (typeof v !== 'string') throw new VerificationError('SIGNATURE_MALFORMED', `${k} must be a string`)
      if (v.length > limits.maxParamLength) throw new VerificationError('SIGNATURE_MALFORMED', `${k} is too long`)
      out[k] = v
      break
  }
}

function readParams(raw: Parameters, limits: SignatureLimits): SignatureParams {
  const out: SignatureParams = {}
  for (const [k, v] of raw) readParam(out, k, v, limits)
  return out
}

/** A parsed signature; `raw` is built on first read when the entry came from a compiled shape. */
class Entry implements SignatureEntry {
  #raw: Parameters | undefined
  readonly #layout: Layout | undefined
  readonly #match: RegExpExecArray | undefined
  constructor(
    readonly label: string,
    readonly components: readonly Component[],
    readonly params: SignatureParams,
    readonly paramsValue: string,
    readonly signature: Uint8Array,
    raw: Parameters | undefined,
    layout?: Layout,
    match?: RegExpExecArray,
  ) {
    this.#raw = raw
    this.#layout = layout
    this.#match = match
  }
  get raw(): Parameters {
    if (!this.#raw) {
      const raw: Parameters = new Map()
      const { keys, types } = this.#layout as Layout
      const m = this.#match as RegExpExecArray
      for (let k = 0; k < keys.length; k++) raw.set(keys[k] as string, layoutValue(types[k] as number, m[k + 1] as string))
      this.#raw = raw
    }
    return this.#raw
  }
}

/**
 * What a signer sends on every request, compiled so the hot path skips the general parser: one `Signature-Input` member whose
 * label and inner list (`prefix`, e.g. `sig1=("@method" …)`) were parsed before, followed by the
 * same parameter keys in one of the few orders and value types seen with it (a layout). Each layout
 * is one sticky RegExp over the whole header, so a repeat header is read in one `exec`; any other
 * text is parsed in full. A shape holds nothing of any one request.
 */
interface Shape {
  /** The received text up to and including the inner list's `)`, which is its first `)`. */
  prefix: string
  label: string
  components: readonly Component[]
  /** At most {@link MAX_LAYOUTS}, the last one matched first. */
  layouts: Layout[]
  /** `label=` of the `Signature` member. */
  sigPrefix: string
}

/**
 * The shape's prefix, then `;key=value` for each key in order to the end of the header, each value
 * canonical text of the type seen (an Integer, a String without escapes, a Token): the text read is
 * its own strict serialization.
 */
interface Layout {
  /** The RegExp's pattern as built (RegExp.source may differ in its escapes). */
  source: string
  re: RegExp
  /** Internalized where they are the parameters of RFC 9421 §2.3 (readParam compares them). */
  keys: readonly string[]
  types: readonly number[]
}

const INTEGER = 0
const STRING = 1
const TOKEN = 2

const VALUE_PATTERNS = [
  // ±999,999,999,999,999 without a leading zero or "-0": the canonical Integer.
  '(0|-?[1-9][0-9]{0,14})',
  // Printable ASCII without `"` and `\`: a String whose serialization needs no escape.
  '"([\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*)"',
  // RFC 9651 §3.3.4.
  "([A-Za-z*][0-9A-Za-z!#$%&'*+.^_`|~:/-]*)",
]

const KNOWN_KEYS = new Map(['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'].map((k) => [k, k]))

const MAX_SHAPES = 64
const MAX_LAYOUTS = 4
const shapes = new Map<string, Shape>()
let lastShape: Shape | undefined

const typeOf = (v: BareItem): number =>
  typeof v === 'number' ? (Number.isInteger(v) ? INTEGER : -1) : typeof v === 'string' ? STRING : v instanceof Token ? TOKEN : -1

const escapeRegExp = (s: string) => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')

/** After a full parse of a single, canonical member: remember its shape and layout (bounded, oldest out). */
function remember(signatureInput: string, entry: SignatureEntry, items: Item[]): void {
  const prefix = `${entry.label}=${serializeInnerList([items, NO_PARAMETERS])}`
  if (prefix.length > 1024 || prefix.indexOf(')') !== prefix.length - 1 || !signatureInput.startsWith(prefix)) return
  const keys: string[] = []
  const types: number[] = []
  let source = escapeRegExp(prefix)
  for (const [k, v] of entry.raw) {
    const type = typeOf(v)
    if (type < 0) return // `;k` (true), a Decimal, bytes, a Date: not a layout this path reads
    keys.push(KNOWN_KEYS.get(k) ?? k)
    types.push(type)
    source += `;${escapeRegExp(k)}=${VALUE_PATTERNS[type]}`
  }
  source += '$'
  let shape = shapes.get(prefix)
  if (!shape) {
    if (shapes.size >= MAX_SHAPES) shapes.delete(shapes.keys().next().value as string)
    shape = { prefix, label: entry.label, components: entry.components, layouts: [], sigPrefix: `${entry.label}=` }
    shapes.set(prefix, shape)
  }
  if (shape.layouts.some((l) => l.source === source) || compileCredit < COMPILE_EVERY) return
  compileCredit -= COMPILE_EVERY
  if (shape.layouts.length >= MAX_LAYOUTS) shape.layouts.pop()
  shape.layouts.unshift({ source, re: new RegExp(source, 'y'), keys, types })
}

// A layout's RegExp costs far more to compile (on its first exec) than a full parse: ~100-300 µs
// for a 150-400 character header here, against ~20-60 µs. A sender that varies its shapes (say,
// unsigned requests) must not make each request pay for one, so compiles are budgeted: up to
// COMPILE_BURST banked, one more earned every COMPILE_EVERY calls of parseSignatures. A shape
// that is not compiled is parsed in full, as before.
const COMPILE_EVERY = 256
const COMPILE_BURST = 64
let compileCredit = COMPILE_BURST * COMPILE_EVERY

const NO_PARAMETERS: Parameters = new Map()

/** The layout {@link matchLayout} matched. */
let matched: Layout | undefined

/** One exec per layout of `shape`, the last one matched first. */
function matchLayout(shape: Shape, signatureInput: string): RegExpExecArray | null {
  const layouts = shape.layouts
  for (let l = 0; l < layouts.length; l++) {
    const layout = layouts[l] as Layout
    layout.re.lastIndex = 0
    const m = layout.re.exec(signatureInput)
    if (m === null) continue
    if (l > 0) layouts.unshift(...layouts.splice(l, 1))
    matched = layout
    return m
  }
  return null
}

/** A layout's value from its text (a String's text is the string: no escapes). */
const layoutValue = (type: number, text: string): BareItem =>
  type === INTEGER ? integerOf(text) : type === STRING ? text : new Token(text)

/** A canonical Integer's text (at most 15 digits: exact in a double). */
function integerOf(text: string): number {
  const neg = text.charCodeAt(0) === 0x2d
  let n = 0
  for (let k = neg ? 1 : 0; k < text.length; k++) n = n * 10 + (text.charCodeAt(k) - 0x30)
  return neg ? -n : n
}

/** The one entry of a request whose headers have a known shape, or undefined (parse in full). */
function parseShaped(signatureInput: string, signature: string, limits: SignatureLimits): Entry | undefined {
  let shape = lastShape
  let m = shape ? matchLayout(shape, signatureInput) : null
  if (m === null) {
    const close = signatureInput.indexOf(')')
    if (close < 0 || shapes.size === 0) return undefined
    const hit = shapes.get(signatureInput.slice(0, close + 1))
    if (!hit || hit === shape) return undefined
    m = matchLayout(hit, signatureInput)
    if (m === null) return undefined
    shape = lastShape = hit
  }
  const s = shape as Shape
  if (s.components.length > limits.maxComponents || !signature.startsWith(s.sigPrefix)) return undefined
  const mac = parseShapedByteSequence(signature, s.sigPrefix.length)
  if (!mac) return undefined
  const layout = matched as Layout
  const { keys, types } = layout
  const params: SignatureParams = {}
  for (let k = 0; k < keys.length; k++) readParam(params, keys[k] as string, layoutValue(types[k] as number, m[k + 1] as string), limits)
  // The member's text is canonical (the prefix was, and the layout reads only canonical text): it
  // is the @signature-params value. `raw` is read from the match when asked for.
  const paramsValue = signatureInput.slice(s.label.length + 1)
  return new Entry(s.label, s.components, params, paramsValue, mac, undefined, layout, m)
}

// The inner lists signers keep sending, by exact text; and their components, by parsed list.
const innerLists = createInnerListCache(32)
const componentsByList = new WeakMap<Item[], readonly Component[]>()
const spans: MemberSpans = { spans: [] }

function parseField(value: string, field: string, limits: SignatureLimits): Dictionary {
  if (value.length > limits.maxHeaderBytes)
    throw new VerificationError('SIGNATURE_MALFORMED', `${field} exceeds ${limits.maxHeaderBytes} bytes`)
  try {
    spans.spans.length = 0
    return parseDictionary(value, { strict: true, spans, innerLists })
  } catch (e) {
    if (!(e instanceof StructuredFieldError)) throw e
    throw new VerificationError(
      'SIGNATURE_MALFORMED',
      `${field} is not a valid structured dictionary (Sigil profile: labels and parameters once each)`,
    )
  }
}

function componentsOf(items: Item[]): readonly Component[] {
  const hit = componentsByList.get(items)
  if (hit) return hit
  let components: Component[]
  try {
    components = items.map(fromItem)
  } catch (e) {
    if (e instanceof ComponentError) throw new VerificationError('SIGNATURE_MALFORMED', e.message)
    throw e
  }
  // Cached lists are frozen and shared: remember what they compile to.
  if (Object.isFrozen(items)) componentsByList.set(items, Object.freeze(components))
  return components
}

/**
 * Parse `Signature-Input` and `Signature` (RFC 9421 §4) within limits, with the one structured
 * field parser. Labels (and parameter keys) must be unique in each header (Sigil profile) and the
 * two headers must carry the same set of labels.
 */
export function parseSignatures(
  signatureInput: string | null,
  signature: string | null,
  limits: SignatureLimits = DEFAULT_SIGNATURE_LIMITS,
): SignatureEntry[] {
  if (signatureInput === null || signature === null) {
    throw new VerificationError('SIGNATURE_MISSING', 'request carries no Signature and Signature-Input')
  }
  if (compileCredit < COMPILE_BURST * COMPILE_EVERY) compileCredit++
  if (signatureInput.length <= limits.maxHeaderBytes && signature.length <= limits.maxHeaderBytes) {
    const entry = parseShaped(signatureInput, signature, limits)
    if (entry) return [entry]
  }
  const inputs = parseField(signatureInput, 'Signature-Input', limits)
  const at = spans.spans.slice()
  const sigs = parseField(signature, 'Signature', limits)
  // A MAC has one text: a Signature member whose base64 is not canonical (unpadded, or with
  // stray bits in its last character) would be a second text for the same signature.
  for (let k = 2; k < spans.spans.length; k += 3) {
    if (spans.spans[k] !== 1) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature member is not canonical base64')
  }
  if (inputs.size > limits.maxSignatures || sigs.size > limits.maxSignatures) {
    throw new VerificationError('SIGNATURE_MALFORMED', `more than ${limits.maxSignatures} signatures`)
  }
  if (inputs.size !== sigs.size) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature and Signature-Input labels differ')
  const out: SignatureEntry[] = []
  let n = 0
  let only: Item[] | undefined
  for (const [label, member] of inputs) {
    const sig = sigs.get(label)
    if (!sig) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature and Signature-Input labels differ')
    if (!isInnerList(member)) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature-Input member is not an inner list')
    if (isInnerList(sig) || !(sig[0] instanceof Uint8Array)) {
      throw new VerificationError('SIGNATURE_MALFORMED', 'Signature member is not a byte sequence')
    }
    const [items, raw] = member
    if (items.length > limits.maxComponents) throw new VerificationError('SIGNATURE_MALFORMED', 'too many covered components')
    const components = componentsOf(items)
    // The received text is the `@signature-params` value when it is already the strict
    // serialization (what conforming signers send); otherwise it is re-serialized.
    const k = 3 * n++
    const canonical = at[k + 2] === 1
    const paramsValue = canonical ? signatureInput.slice(at[k], at[k + 1]) : serializeInnerList(member as InnerList)
    out.push(new Entry(label, components, readParams(raw, limits), paramsValue, sig[0] as Uint8Array, raw))
    if (canonical && inputs.size === 1) only = items
  }
  if (only) remember(signatureInput, out[0] as SignatureEntry, only)
  return out
}

/**
 * Serialize covered components and parameters as the inner list that is both the
 * `@signature-params` value and the `Signature-Input` member. Parameter order is kept.
 */
export function serializeSignatureParams(
  components: readonly Component[],
  params: SignatureParams & Record<string, BareItem | undefined>,
): string {
  let out = '('
  for (let i = 0; i < components.length; i++) out += (i ? ' ' : '') + (components[i] as Component).id
  out += ')'
  for (const k in params) {
    const v = params[k]
    if (v === undefined) continue
    const key = KNOWN_PARAM_KEYS.has(k) ? k : serializeKey(k)
    // The common shapes inline; anything else through the serializer (which throws for a value
    // that has no structured-field form).
    if (typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) < 1e15) out += `;${key}=${v}`
    else if (typeof v === 'string' && isPlainString(v)) out += `;${key}="${v}"`
    else if (v === true) out += `;${key}`
    else out += `;${key}=${serializeBareItem(v)}`
  }
  return out
}

const KNOWN_PARAM_KEYS = new Set(['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'])

/** True when the structured-field string serialization of `s` is `"s"` (no escapes, all printable ASCII). */
function isPlainString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false
  }
  return true
}
