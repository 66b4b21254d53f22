/** Where the CLI reads and writes; tests pass their own, `bin.ts` passes the process's. */
export interface CliIo {
  stdout: { write(chunk: string | Uint8Array): unknown }
  stderr: { write(chunk: string): unknown }
  env: Record<string, string | undefined>
  /** Directory relative paths resolve against. */
  cwd: string
  /** Used by `sigil curl`. Default: global `fetch`. */
  fetch?: typeof fetch
  /** Clock in ms, used by `curl` and `explain`. Default `Date.now`. */
  now?: () => number
}

/**
 * The real process's streams and environment.
 *
 * @example
 * ```ts
 * process.exitCode = await run(process.argv.slice(2), processIo())
 * ```
 */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }
}

/** Shared by every command: the io and whether to print JSON. */
export interface CommandContext {
  io: CliIo
  json: boolean
}

/** A (sub)command: parses its own arguments, returns an exit code. */
export type Command = (args: string[], ctx: CommandContext) => Promise<number>
