import { ConfigurationError } from '../errors.js'

/**
 * The options toolkit every Sigil package uses, so that options say what they mean or are refused
 * (STYLE: "Options say what they mean or are refused"). A misspelled option that is silently
 * ignored is a fail-open: `requireScopes` for `requiredScopes` verifies with no scope check,
 * `nonceStor` falls back to the per-process store. So an unknown key is refused with a
 * `ConfigurationError` naming the key and the closest known name, and a renamed key names its
 * successor. One message format for every package:
 *
 *     invalid <what>: <field path>: <what is wrong>
 *
 * e.g. `invalid verify options: requireScopes: unknown option, did you mean \`requiredScopes\`?`.
 * Messages name fields, never values (a value may be a secret).
 */

/** A renamed option: the new name, and the unit when that changed too (`windowMs`, `milliseconds`). */
export type Rename = string | readonly [to: string, unit: string]

/** Old name → successor, for the options of one function (matched at any depth). */
export type Renames = Readonly<Record<string, Rename>>

/**
 * Every key of `T`, as a record the compiler checks for completeness: adding an option to the
 * interface without adding it here is a type error, so a new option is never refused as unknown.
 *
 * @example
 * ```ts
 * const KNOWN = optionNames<MemoryNonceStoreOptions>({ maxEntries: true, maxEntriesPerKey: true, now: true })
 * ```
 */
export function optionNames<T>(names: { readonly [K in keyof T]-?: true }): readonly string[] {
  return Object.keys(names)
}

/** `` `old` was renamed `new` (unit) ``: the message a renamed option is refused with. */
export function renamedMessage(old: string, rename: Rename): string {
  const [to, unit] = typeof rename === 'string' ? [rename, undefined] : rename
  return `\`${old}\` was renamed \`${to}\`${unit ? ` (${unit})` : ''}`
}

/** `invalid <what>: <field>: <message>`, the one format of every options error. */
export function optionsError(what: string, field: string, message: string, cause?: unknown): ConfigurationError {
  return new ConfigurationError(`invalid ${what}: ${field || '(options)'}: ${message}`, cause === undefined ? undefined : { cause })
}

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), case-insensitive:
 * `requireScopes`→`requiredScopes` 1, `nonecStore`→`nonceStore` 1, `MaxBodyBytes`→`maxBodyBytes` 0.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  let prev2: number[] = []
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j)
  for (let i = 1; i <= s.length; i++) {
    const row = [i]
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, (prev2[j - 2] as number) + 1)
      row.push(d)
    }
    prev2 = prev
    prev = row
  }
  return prev[t.length] as number
}

/**
 * The known name closest to `name`, if it is close enough to be a slip of the keyboard (a third of
 * its length, at least 2 edits) or one contains the other (`maxBody` for `maxBodyBytes`).
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  const lower = name.toLowerCase()
  for (const k of known) {
    const d = editDistance(name, k)
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  if (best === undefined) return undefined
  if (bestDistance <= Math.max(2, Math.floor(name.length / 3))) return best
  for (const k of known) {
    const l = k.toLowerCase()
    if (lower.length >= 3 && (l.includes(lower) || lower.includes(l))) return k
  }
  return undefined
}

/** A key as it may be shown: printable, at most 64 characters (it may come from a request body). */
function shown(key: string): string {
  const clean = key.replace(/[^\x20-\x7e]/g, '?')
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean
}

/** What is wrong with an unknown key: the closest known name, else the known names. */
export function unknownMessage(key: string, known: readonly string[], renamed?: Renames): string {
  if (renamed && Object.hasOwn(renamed, key)) return renamedMessage(key, renamed[key] as Rename)
  const near = closestName(key, known)
  if (near !== undefined) return `unknown option, did you mean \`${near}\`?`
  return known.length ? `unknown option (known: ${known.join(', ')})` : 'unknown option (takes no options)'
}

/**
 * Refuse an options object with a key outside `known` (renamed keys name their successor). Own
 * enumerable string keys only; `undefined` values count too (`{ nonceStor: undefined }` is still a
 * typo). Not an object: nothing to check here (the caller's validation says what is expected).
 *
 * @example
 * ```ts
 * checkOptions('Redis nonce store options', options, KNOWN)
 * // invalid Redis nonce store options: prefx: unknown option, did you mean `prefix`?
 * ```
 */
export function checkOptions(what: string, options: unknown, known: readonly string[], renamed?: Renames, path = ''): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    throw optionsError(what, path ? `${path}.${shown(key)}` : shown(key), unknownMessage(key, known, renamed))
  }
}

/** The part of a zod issue this module reads (zod 4, classic and mini). */
export interface OptionsIssue {
  path: PropertyKey[]
  message: string
  code?: string
  keys?: string[]
  errors?: ReadonlyArray<ReadonlyArray<OptionsIssue>>
}

/** A zod schema as far as this module looks into it (duck-typed: core does not depend on zod). */
type Def = { type?: string; shape?: Record<string, unknown>; innerType?: unknown; options?: unknown[]; in?: unknown; out?: unknown }
const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def

/** The object schemas a value at this schema may be checked against (through optional, union, pipe…). */
function objectsOf(schema: unknown, depth = 0): Def[] {
  const def = defOf(schema)
  if (!def || depth > 16) return []
  if (def.type === 'object') return [def]
  if (def.type === 'union') return (def.options ?? []).flatMap((o) => objectsOf(o, depth + 1))
  if (def.type === 'pipe') return objectsOf(def.in, depth + 1)
  return def.innerType === undefined ? [] : objectsOf(def.innerType, depth + 1)
}

/**
 * The option names a zod schema knows at `path` (`[]`: the top level), read from the schema, so
 * an option added to the schema later is known without a second list.
 */
export function schemaKeys(schema: unknown, path: readonly PropertyKey[] = []): string[] {
  let level = objectsOf(schema)
  for (const segment of path) {
    if (typeof segment !== 'string') return []
    level = level.flatMap((d) => (d.shape && Object.hasOwn(d.shape, segment) ? objectsOf(d.shape[segment]) : []))
  }
  return [...new Set(level.flatMap((d) => Object.keys(d.shape ?? {})))]
}

/** In a union (`presigned: boolean | {…}`), the issue inside the branch the value took, with its full path. */
function innermost(issue: OptionsIssue): OptionsIssue {
  if (issue.code !== 'invalid_union' || !issue.errors) return issue
  let best: OptionsIssue | undefined
  for (const branch of issue.errors) {
    const first = branch[0] && innermost(branch[0])
    if (first && first.path.length > 0 && (!best || first.path.length > best.path.length)) best = first
  }
  return best ? { ...best, path: [...issue.path, ...best.path] } : issue
}

/**
 * The `ConfigurationError` for a failed zod parse of options built with strict objects: a renamed
 * option first (its message says what to write), then an unknown one (with the closest name the
 * schema knows at that level), then the first issue. Never echoes a value.
 *
 * @example
 * ```ts
 * const parsed = schema.safeParse(options)
 * if (!parsed.success) throw zodOptionsError('verify options', parsed.error, schema, { window: ['windowMs', 'milliseconds'] })
 * ```
 */
export function zodOptionsError(
  what: string,
  error: { issues: ReadonlyArray<OptionsIssue> },
  schema: unknown,
  renamed?: Renames,
): ConfigurationError {
  const issues = error.issues.map(innermost)
  const unknown = issues.filter((i) => i.code === 'unrecognized_keys' && i.keys?.length)
  const rename = renamed && unknown.find((i) => i.keys?.some((k) => Object.hasOwn(renamed, k)))
  const issue = rename ?? unknown[0]
  if (issue) {
    const key = (rename ? issue.keys?.find((k) => Object.hasOwn(renamed as Renames, k)) : issue.keys?.[0]) as string
    const field = [...issue.path.map(String), shown(key)].join('.')
    return optionsError(what, field, unknownMessage(key, schemaKeys(schema, issue.path), renamed), error)
  }
  const first = issues[0]
  return optionsError(what, first?.path.map(String).join('.') ?? '', first?.message ?? 'invalid', error)
}
