import { type ParseArgsConfig, parseArgs } from 'node:util'
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
 * `node:util` parseArgs, strict, with the common flags; mistakes become usage errors (exit 64).
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
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true })
  } catch (e) {
    throw usageError((e as Error).message.split('\n')[0] as string)
  }
}

/** The single positional a command needs, or a usage error naming it. */
export function onePositional(positionals: string[], name: string, usage: string): string {
  if (positionals.length !== 1) throw usageError(`expected ${name}\nusage: ${usage}`)
  return positionals[0] as string
}
