import { type ParseArgsConfig, parseArgs } from 'node:util'
import { closestName } from '@sigil/core/internal'
import { usageError } from './exit-codes.js'

type Options = NonNullable<ParseArgsConfig['options']>

/** Flags every command takes. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options

/** Flags of commands that open the key store. */
export const STORE_OPTIONS = {
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
} as const satisfies Options

/**
 * `node:util` parseArgs, strict, with the common flags; mistakes become usage errors (exit 64). An
 * unknown flag names the closest known one (`unknown option --principle, did you mean
 * --principal?`), as unknown options do everywhere in Sigil: a misspelled flag is never ignored.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandArgs(args, { principal: { type: 'string' } })
 * ```
 */
export function parseCommandArgs<O extends Options>(
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMON_OPTIONS & O; allowPositionals: true; strict: true }>> {
  const all = { ...COMMON_OPTIONS, ...options }
  try {
    return parseArgs({ args, options: all, allowPositionals: true, strict: true })
  } catch (e) {
    const unknown = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'(-[^']*)'/.exec((e as Error).message)
    if (unknown) throw usageError(unknownFlag(unknown[1] as string, Object.keys(all)))
    throw usageError((e as Error).message.split('\n')[0] as string)
  }
}

/** `unknown option --x, did you mean --y?`, else the flags the command takes. */
function unknownFlag(flag: string, known: string[]): string {
  const near = closestName(flag.replace(/^-+/, '').split('=')[0] as string, known)
  if (near !== undefined) return `unknown option ${flag}, did you mean --${near}?`
  return `unknown option ${flag} (options: ${known.map((k) => `--${k}`).join(', ')})`
}

/** The single positional a command needs, or a usage error naming it. */
export function onePositional(positionals: string[], name: string, usage: string): string {
  if (positionals.length !== 1) throw usageError(`expected ${name}\nusage: ${usage}`)
  return positionals[0] as string
}
