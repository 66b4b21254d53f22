import type { Component } from './components.js'
import { toBase64, utf8 } from './encoding.js'
import { ComponentError } from './errors.js'
import { isResponse, type Message, type RequestMessage } from './message.js'
import { queryParam } from './query-param.js'
import {
  type Dictionary,
  EMPTY_PARAMETERS,
  isInnerList,
  parseDictionary,
  parseItemField,
  parseList,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
} from './structured-fields.js'

/**
 * Structured-field types of fields Sigil can strictly re-serialize for the `sf` and `key` flags
 * (RFC 9421 §2.1.1 says the type must be known). Frozen: a field not listed here cannot be covered
 * with `sf` or `key` (`ComponentError`), whatever a caller does at run time.
 */
export const STRUCTURED_FIELD_TYPES: Readonly<Record<string, 'dictionary' | 'list' | 'item'>> = Object.freeze({
  'content-digest': 'dictionary',
  'repr-digest': 'dictionary',
  'want-content-digest': 'dictionary',
  'signature-input': 'dictionary',
  signature: 'dictionary',
  'accept-signature': 'dictionary',
  'cache-status': 'list',
  'proxy-status': 'list',
  priority: 'dictionary',
  'example-dict': 'dictionary',
})

function fieldValue(headers: Message['headers'], name: string): string {
  const v = headers.get(name)
  if (v === null) throw new ComponentError(`covered field "${name}" is not in the message`)
  return v
}

function fieldLines(headers: Message['headers'], name: string): string[] {
  if (headers.getAll) {
    const all = headers.getAll(name)
    if (all.length === 0) throw new ComponentError(`covered field "${name}" is not in the message`)
    return all
  }
  return [fieldValue(headers, name)]
}

function strictField(name: string, value: string, c: Component): string {
  const type = STRUCTURED_FIELD_TYPES[name]
  const key = c.params.get('key')
  try {
    if (key !== undefined) {
      if (typeof key !== 'string' || (type !== undefined && type !== 'dictionary')) throw new Error('x')
      const dict: Dictionary = parseDictionary(value)
      const member = dict.get(key)
      if (member === undefined) throw new ComponentError(`dictionary key missing from "${name}"`)
      return isInnerList(member) ? serializeInnerList(member) : serializeItem(member[0], member[1])
    }
    if (type === 'dictionary') return serializeDictionary(parseDictionary(value))
    if (type === 'list') return serializeList(parseList(value))
    if (type === 'item') {
      const [v, p] = parseItemField(value)
      return serializeItem(v, p)
    }
  } catch (e) {
    if (e instanceof ComponentError) throw e
    throw new ComponentError(`field "${name}" is not a valid structured field of its type`)
  }
  throw new ComponentError(`field "${name}" has no known structured type for sf`)
}

function requestOf(message: Message, c: Component): RequestMessage {
  if (c.params.has('req')) {
    if (!isResponse(message)) throw new ComponentError('req applies only to responses')
    if (!message.request) throw new ComponentError('req needs the related request')
    return message.request
  }
  if (isResponse(message)) throw new ComponentError(`${c.name} is not available on a response`)
  return message
}

/** The value of one covered component (RFC 9421 §2.1–2.4). */
export function componentValue(message: Message, c: Component): string {
  const name = c.name
  if (name.charCodeAt(0) === 0x40 /* @ */) {
    if (name === '@status') {
      if (!isResponse(message) || c.params.has('req')) throw new ComponentError('@status applies only to responses')
      return String(message.status)
    }
    const r = requestOf(message, c)
    switch (name) {
      case '@method':
        return r.method
      case '@authority':
        return r.authority
      case '@path':
        return r.path
      case '@query':
        return r.query === '' ? '?' : r.query
      case '@scheme':
        return r.scheme
      case '@target-uri':
        return `${r.scheme}://${r.authority}${r.path}${r.query}`
      case '@request-target':
        return `${r.path}${r.query}`
      case '@query-param':
        return queryParam(r.query, c.params.get('name') as string)
    }
    throw new ComponentError('unknown derived component')
  }
  const source = c.params.has('req') ? requestOf(message, c).headers : message.headers
  if (c.params.has('bs')) {
    return fieldLines(source, name)
      .map((line) => `:${toBase64(utf8(line.trim().replace(/\r?\n[ \t]+/g, ' ')))}:`)
      .join(', ')
  }
  const value = fieldValue(source, name)
  if (c.params.has('sf') || c.params.has('key')) return strictField(name, value, c)
  return value
}

// How a compiled list reads each component's value: GENERAL through componentValue (parameters,
// `@query-param`, `@status`, ...), FIELD a header field without parameters, the rest one derived
// component each.
const GENERAL = 0
const METHOD = 1
const AUTHORITY = 2
const PATH = 3
const QUERY = 4
const SCHEME = 5
const TARGET_URI = 6
const REQUEST_TARGET = 7
const FIELD = 8

const DERIVED_READS = new Map<string, number>([
  ['@method', METHOD],
  ['@authority', AUTHORITY],
  ['@path', PATH],
  ['@query', QUERY],
  ['@scheme', SCHEME],
  ['@target-uri', TARGET_URI],
  ['@request-target', REQUEST_TARGET],
])

/**
 * A frozen component list, compiled once (the hot path reads it on every request): each line's `"id": ` head, how its value is
 * read, and whether a request-only component is in it. Duplicates are refused when compiling.
 */
interface CompiledList {
  /** The inner list of the ids, `("@method" …)`, as a signer writes it. */
  list: string
  heads: readonly string[]
  reads: readonly number[]
  names: readonly string[]
  derived: boolean
  /**
   * Per line, the last value that passed the character check, for the lines whose values are
   * never secret and mostly the same (method, authority, scheme, Content-Type; not a path or query,
   * which may carry tokens): the same value again, which is what a client or a server mostly sees,
   * is compared (natively) instead of scanned in JS.
   */
  checked: (string | undefined)[]
  /** Per line: whether its value may be kept in `checked`. */
  memo: readonly boolean[]
}

// Header fields whose values are kept as checked: never secret, and the same on most requests.
// (Not Content-Digest: it changes with every body, so keeping it would only flatter a benchmark
// that sends one body over and over.)
const MEMO_FIELDS = new Set(['content-type'])

const compiledLists = new WeakMap<readonly Component[], CompiledList>()
let lastList: readonly Component[] | undefined
let lastCompiled: CompiledList | undefined

/** The compiled form of a frozen list (undefined for any other list: its contents may change). */
function compiledOf(components: readonly Component[]): CompiledList | undefined {
  if (components === lastList) return lastCompiled
  if (!Object.isFrozen(components)) return undefined
  let c = compiledLists.get(components)
  if (!c) {
    const heads: string[] = []
    const reads: number[] = []
    const names: string[] = []
    let derived = false
    for (let n = 0; n < components.length; n++) {
      const k = components[n] as Component
      for (let p = 0; p < n; p++) if ((components[p] as Component).id === k.id) return undefined
      // Only a frozen component with the shared read-only empty parameters (see fromItem) is read
      // without looking at them again.
      const plain = Object.isFrozen(k) && k.params === EMPTY_PARAMETERS
      const read = !plain ? GENERAL : k.name.charCodeAt(0) === 0x40 ? (DERIVED_READS.get(k.name) ?? GENERAL) : FIELD
      if (read !== GENERAL && read !== FIELD) derived = true
      heads.push(`${k.id}: `)
      reads.push(read)
      names.push(k.name)
    }
    const memo = reads.map(
      (r, n) => r === METHOD || r === AUTHORITY || r === SCHEME || (r === FIELD && MEMO_FIELDS.has(names[n] as string)),
    )
    c = { list: `(${components.map((k) => k.id).join(' ')})`, heads, reads, names, derived, checked: reads.map(() => undefined), memo }
    compiledLists.set(components, c)
  }
  lastList = components
  lastCompiled = c
  return c
}

/** `(id id …)`: the covered components as the start of a `Signature-Input` member. */
export function componentList(components: readonly Component[]): string {
  const cl = compiledOf(components)
  if (cl) return cl.list
  let list = '('
  for (let k = 0; k < components.length; k++) list += k ? ` ${(components[k] as Component).id}` : (components[k] as Component).id
  return `${list})`
}

function checkValue(value: string, c: Component): void {
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i)
    if (ch > 0x7e || (ch < 0x20 && ch !== 0x09)) throw new ComponentError(`component ${c.id} has a non-ASCII or control character`)
  }
}

function compiledBase(message: Message, components: readonly Component[], cl: CompiledList, paramsValue: string): string {
  const r = message as RequestMessage
  const heads = cl.heads
  const reads = cl.reads
  const checked = cl.checked
  const memo = cl.memo
  let out = ''
  for (let n = 0; n < heads.length; n++) {
    let value: string
    switch (reads[n]) {
      case METHOD:
        value = r.method
        break
      case AUTHORITY:
        value = r.authority
        break
      case PATH:
        value = r.path
        break
      case QUERY:
        value = r.query === '' ? '?' : r.query
        break
      case SCHEME:
        value = r.scheme
        break
      case TARGET_URI:
        value = `${r.scheme}://${r.authority}${r.path}${r.query}`
        break
      case REQUEST_TARGET:
        value = `${r.path}${r.query}`
        break
      case FIELD:
        value = fieldValue(message.headers, cl.names[n] as string)
        break
      default:
        value = componentValue(message, components[n] as Component)
    }
    if (value !== checked[n]) {
      checkValue(value, components[n] as Component)
      if (memo[n]) checked[n] = value
    }
    out += `${heads[n]}${value}\n`
  }
  return `${out}"@signature-params": ${paramsValue}`
}

/**
 * The signature base of RFC 9421 §2.5: one line per covered component, then the
 * `@signature-params` line. `paramsValue` is the serialized inner list of components and
 * parameters (the exact bytes of the received Signature-Input member when verifying). A frozen
 * list (the defaults, a parsed `Signature-Input` the parser cached) is compiled on first use.
 *
 * @example
 * ```ts
 * const base = signatureBase(view, [component('@method'), component('@path')], '("@method" "@path");created=1')
 * ```
 */
export function signatureBase(message: Message, components: readonly Component[], paramsValue: string): string {
  const cl = compiledOf(components)
  if (cl && !(cl.derived && isResponse(message))) return compiledBase(message, components, cl, paramsValue)
  let out = ''
  for (let n = 0; n < components.length; n++) {
    const c = components[n] as Component
    // A few components at most (limits.maxComponents): a scan beats allocating a Set.
    for (let p = 0; p < n; p++) if ((components[p] as Component).id === c.id) throw new ComponentError('a component is covered twice')
    const value = componentValue(message, c)
    checkValue(value, c)
    out += `${c.id}: ${value}\n`
  }
  return `${out}"@signature-params": ${paramsValue}`
}
