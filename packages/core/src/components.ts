import { ComponentError } from './errors.js'
import { type BareItem, EMPTY_PARAMETERS, type Item, type Parameters, serializeItem } from './structured-fields.js'

/** Derived components of RFC 9421 §2.2 that Sigil understands. */
export const DERIVED_COMPONENTS = [
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@request-target',
  '@path',
  '@query',
  '@query-param',
  '@status',
] as const

/** Component parameters of RFC 9421 §6.5 that Sigil understands (`tr` is refused: no trailers). */
const KNOWN_PARAMS = new Set(['sf', 'key', 'bs', 'req', 'name'])

/**
 * A covered component: its name, parameters, and the exact serialized identifier used in the
 * signature base (`"content-type"`, `"@query-param";name="a"`).
 */
export interface Component {
  readonly name: string
  readonly params: Parameters
  readonly id: string
}

const cache = new Map<string, Component>()

/**
 * A component from its name and optional parameters. Identifiers without parameters are cached,
 * so the defaults cost nothing per request.
 *
 * @example
 * ```ts
 * component('@method').id // '"@method"'
 * component('@query-param', { name: 'id' }).id // '"@query-param";name="id"'
 * ```
 */
export function component(name: string, params?: Record<string, BareItem>): Component {
  if (!params || Object.keys(params).length === 0) {
    const hit = cache.get(name)
    if (hit) return hit
  }
  const map: Parameters = new Map(Object.entries(params ?? {}))
  return fromItem([name, map])
}

/** A component from a parsed inner-list item (as found in `Signature-Input`). */
export function fromItem(item: Item): Component {
  const name = item[0]
  // No parameters: the shared read-only set, so a compiled signature base (signature-base.ts) may
  // rely on it staying empty.
  const params = item[1].size === 0 ? (EMPTY_PARAMETERS as Parameters) : item[1]
  if (typeof name !== 'string') throw new ComponentError('component identifier is not a string')
  if (name !== name.toLowerCase()) throw new ComponentError('component names must be lower case')
  for (const p of params.keys()) {
    if (!KNOWN_PARAMS.has(p)) throw new ComponentError('component identifier has an unsupported parameter')
  }
  if (params.has('bs') && (params.has('sf') || params.has('key'))) {
    throw new ComponentError('bs cannot be combined with sf or key')
  }
  if (name.startsWith('@')) {
    if (!(DERIVED_COMPONENTS as readonly string[]).includes(name)) throw new ComponentError('unknown derived component')
    for (const p of params.keys()) {
      if (p === 'req') continue
      if (p === 'name' && name === '@query-param') continue
      throw new ComponentError('parameter does not apply to a derived component')
    }
    if (name === '@query-param' && typeof params.get('name') !== 'string') {
      throw new ComponentError('@query-param needs a name parameter')
    }
  } else if (params.has('name')) {
    throw new ComponentError('name applies only to @query-param')
  }
  let id: string
  try {
    id = serializeItem(name, params)
  } catch {
    throw new ComponentError('component identifier cannot be serialized')
  }
  const c: Component = Object.freeze({ name, params, id })
  if (params.size === 0 && cache.size < 256) cache.set(name, c)
  return c
}
