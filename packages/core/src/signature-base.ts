import type { Component } from './components.js'
import { toBase64, utf8 } from './encoding.js'
import { ComponentError } from './errors.js'
import { isResponse, type Message, type RequestMessage } from './message.js'
import { queryParam } from './query-param.js'
import {
  type Dictionary,
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

/**
 * The signature base of RFC 9421 §2.5: one line per covered component, then the
 * `@signature-params` line. `paramsValue` is the serialized inner list of components and
 * parameters (the exact bytes of the received Signature-Input member when verifying).
 *
 * @example
 * ```ts
 * const base = signatureBase(view, [component('@method'), component('@path')], '("@method" "@path");created=1')
 * ```
 */
export function signatureBase(message: Message, components: readonly Component[], paramsValue: string): string {
  let out = ''
  for (let n = 0; n < components.length; n++) {
    const c = components[n] as Component
    // A few components at most (limits.maxComponents): a scan beats allocating a Set.
    for (let p = 0; p < n; p++) if ((components[p] as Component).id === c.id) throw new ComponentError('a component is covered twice')
    const value = componentValue(message, c)
    for (let i = 0; i < value.length; i++) {
      const ch = value.charCodeAt(i)
      if (ch > 0x7e || (ch < 0x20 && ch !== 0x09)) throw new ComponentError(`component ${c.id} has a non-ASCII or control character`)
    }
    out += `${c.id}: ${value}\n`
  }
  return `${out}"@signature-params": ${paramsValue}`
}
