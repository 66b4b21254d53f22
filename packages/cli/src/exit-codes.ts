import { SigilError } from '@sigil/core'

/**
 * Exit codes of the `sigil` command; scripts can rely on them. 64 and 78 follow sysexits.h.
 *
 * @example
 * ```ts
 * if ((await run(['keys', 'show', id], io)) === EXIT.KEY) console.error('no such key')
 * ```
 */
export const EXIT = {
  OK: 0,
  /** A check failed (`explain`), or an unexpected error. */
  FAILURE: 1,
  /** The token or secret is malformed (bad prefix, checksum, length). */
  TOKEN: 2,
  /** The key does not exist, or is revoked/expired where an active key is needed. */
  KEY: 3,
  /** The key store could not be opened or queried. */
  STORE: 4,
  /** `curl`: the request could not be sent (DNS, connection refused, TLS). */
  NETWORK: 5,
  /** `curl --fail`: the server answered with a status >= 400 (curl's own code). */
  HTTP_ERROR: 22,
  /** Wrong command line. */
  USAGE: 64,
  /** A compare-and-set key update lost to a concurrent change (`KEY_CONFLICT`): read and retry. */
  CONFLICT: 75,
  /** Missing or invalid configuration, e.g. no SIGIL_MASTER_KEY. */
  CONFIG: 78,
} as const

/** An error the CLI reports with a given exit code; its message is shown as is. */
export class CliError extends Error {
  readonly exitCode: number
  readonly code: string
  constructor(exitCode: number, code: string, message: string) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
    this.code = code
  }
}

/** A command-line mistake: exit 64. */
export function usageError(message: string): CliError {
  return new CliError(EXIT.USAGE, 'USAGE', message)
}

/** The exit code and stable code for any error that reaches the top level. */
export function classify(e: unknown): { exitCode: number; code: string } {
  if (e instanceof CliError) return { exitCode: e.exitCode, code: e.code }
  if (e instanceof SigilError) {
    switch (e.code) {
      case 'TOKEN_INVALID':
        return { exitCode: EXIT.TOKEN, code: e.code }
      case 'KEY_UNKNOWN':
      case 'KEY_REVOKED':
      case 'KEY_EXPIRED':
        return { exitCode: EXIT.KEY, code: e.code }
      case 'STORE_UNAVAILABLE':
        return { exitCode: EXIT.STORE, code: e.code }
      case 'KEY_CONFLICT':
        return { exitCode: EXIT.CONFLICT, code: e.code }
      case 'CONFIGURATION_INVALID':
        return { exitCode: EXIT.CONFIG, code: e.code }
      default:
        return { exitCode: EXIT.FAILURE, code: e.code }
    }
  }
  return { exitCode: EXIT.FAILURE, code: 'INTERNAL' }
}
