import { ConfigurationError } from '@sigil/core'

// Option checks without zod: zod's full build was 443 KiB of the 497 KiB browser
// bundle of createSignedFetch. The messages are the ones the zod schemas gave, so callers and logs
// read the same text: `invalid <what>: <field>: <problem>` (never the value).

/** One failed check: the field (dotted path) and what is wrong with it. */
type Problem = [field: string, message: string]
/** A check of one value: a problem, or undefined when the value is fine (or absent). */
export type Check = (value: unknown, field: string) => Problem | undefined

/** The type name zod reports as "received …". */
function received(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN'
  return typeof v
}

const expected = (what: string, v: unknown, field: string): Problem => [field, `Invalid input: expected ${what}, received ${received(v)}`]

export function str(o: { min?: number; max?: number; pattern?: RegExp } = {}): Check {
  return (v, f) => {
    if (typeof v !== 'string') return expected('string', v, f)
    if (o.min !== undefined && v.length < o.min) return [f, `Too small: expected string to have >=${o.min} characters`]
    if (o.max !== undefined && v.length > o.max) return [f, `Too big: expected string to have <=${o.max} characters`]
    if (o.pattern && !o.pattern.test(v)) return [f, `Invalid string: must match pattern ${o.pattern}`]
    return undefined
  }
}

export function int(min: number, max: number, refine?: (n: number) => string | undefined): Check {
  return (v, f) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return expected('number', v, f)
    if (!Number.isInteger(v)) return [f, 'Invalid input: expected int, received number']
    if (!Number.isSafeInteger(v))
      return [
        f,
        `Too ${v > 0 ? 'big' : 'small'}: expected int to be ${v > 0 ? '<=' : '>='}${v > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER}`,
      ]
    if (v < min) return [f, `Too small: expected number to be >=${min}`]
    if (v > max) return [f, `Too big: expected number to be <=${max}`]
    const bad = refine?.(v)
    return bad === undefined ? undefined : [f, bad]
  }
}

export const bool: Check = (v, f) => (typeof v === 'boolean' ? undefined : expected('boolean', v, f))
/**
 * `encryptBody` on an entry point that does not encrypt yet: refused when true, so a
 * body the caller asked to encrypt never goes out in the clear.
 */
export const notEncrypting =
  (where: string): Check =>
  (v, f) =>
    v === false || v === undefined
      ? undefined
      : [f, `${where} does not encrypt bodies yet: use createSignedFetch or signRequest from @sigil/client for encryptBody`]
export const fn: Check = (v, f) => (typeof v === 'function' ? undefined : expected('function', v, f))
export const record: Check = (v, f) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : expected('record', v, f))

export function oneOf(values: readonly string[]): Check {
  return (v, f) =>
    values.includes(v as string) ? undefined : [f, `Invalid option: expected one of ${values.map((x) => `"${x}"`).join('|')}`]
}

export function arrayOf(item: Check): Check {
  return (v, f) => {
    if (!Array.isArray(v)) return expected('array', v, f)
    for (let k = 0; k < v.length; k++) {
      const p = item(v[k], `${f}.${k}`)
      if (p) return p
    }
    return undefined
  }
}

/** The checks of one options object, by key (`null`: known, any value); `undefined` values are absent options. */
export type Shape = Record<string, Check | null>

/** Edit distance between two names (case-insensitive), for "did you mean". */
function distance(a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  let prev = Array.from({ length: b.length + 1 }, (_, k) => k)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length] as number
}

/** The known name closest to `name`, if one is close enough to be a likely typo. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestD = Number.POSITIVE_INFINITY
  for (const k of known) {
    const d = distance(name, k)
    if (d < bestD) {
      best = k
      bestD = d
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

const renamedChecks = new WeakSet<Check>()

/** An option that was renamed: refused with a message naming its successor. */
export function renamed(to: string, unit?: string): Check {
  const c: Check = (_v, f) => [f, `\`${f}\` was renamed \`${to}\`${unit ? ` (${unit})` : ''}`]
  renamedChecks.add(c)
  return c
}

/**
 * Check an options object against its shape and throw a ConfigurationError for the first problem:
 * a renamed option first (its message says what to write instead), then (when `strict`) a key the
 * shape does not know, named with the closest known key, then the first bad value in shape order.
 * An `undefined` value is an absent option.
 */
export function checkOptions(what: string, options: object, shape: Shape, strict: boolean): void {
  const o = options as Record<string, unknown>
  let first: Problem | undefined
  for (const [key, check] of Object.entries(shape)) {
    if (!check || o[key] === undefined || !Object.hasOwn(o, key)) continue
    if (renamedChecks.has(check)) throw fail(what, check(o[key], key) as Problem)
    first ??= check(o[key], key)
  }
  if (strict) {
    for (const key of Object.keys(o)) {
      if (Object.hasOwn(shape, key) || o[key] === undefined) continue
      const near = closest(
        key,
        Object.keys(shape).filter((k) => !renamedChecks.has(shape[k] as Check)),
      )
      throw fail(what, [key, `unknown option${near ? `, did you mean \`${near}\`?` : ''}`])
    }
  }
  if (first) throw fail(what, first)
}

function fail(what: string, [field, message]: Problem): ConfigurationError {
  return new ConfigurationError(`invalid ${what}: ${field}: ${message}`)
}
