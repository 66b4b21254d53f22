import { classify, usageError } from './exit-codes.js'
import { toJson } from './format.js'
import { type CliIo, type Command, processIo } from './io.js'

/** Top-level commands, loaded lazily so `sigil keys list` does not load the HTTP client. */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  keys: { summary: 'create, list, show, rotate, revoke keys; change scopes', load: async () => (await import('./commands/keys.js')).keys },
  'master-key': {
    summary: 'generate a master key; re-encrypt secrets under a new one',
    load: async () => (await import('./commands/master-key.js')).masterKey,
  },
  curl: { summary: 'send a signed request (curl-like flags)', load: async () => (await import('./commands/curl.js')).curl },
  admin: {
    summary: 'run the developer portal (admin API + dashboard); sign-in and invite links',
    load: async () => (await import('./commands/admin.js')).admin,
  },
  presign: {
    summary: 'print a presigned URL (a link that works without a key until it expires)',
    load: async () => (await import('./commands/presign.js')).presign,
  },
  explain: {
    summary: 'show the signature base of a request and which check fails',
    load: async () => (await import('./commands/explain.js')).explain,
  },
}

function help(): string {
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(11)} ${c.summary}`)
  return `usage: sigil <command> [options]\n\n${lines.join('\n')}\n\nRun \`sigil <command> --help\` for its options. Exit codes: see the @sigil/cli README.\n`
}

/**
 * Run the `sigil` command in-process and resolve to its exit code. Errors are printed (as JSON
 * on stderr with `--json`), never thrown; messages never contain secrets.
 *
 * @example
 * ```ts
 * import { run } from '@sigil/cli'
 * const code = await run(['keys', 'list', '--json'], { ...processIo(), stdout: { write: (s) => chunks.push(String(s)) } })
 * ```
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const args = [...argv]
  const json = args.includes('--json')
  try {
    const [name, ...rest] = args
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(help())
      return name ? 0 : 64
    }
    if (name === '--version') {
      io.stdout.write('0.1.0\n')
      return 0
    }
    const cmd = COMMANDS[name]
    if (!cmd) throw usageError(`unknown command: ${name}\n${help()}`)
    return await (await cmd.load())(rest, { io, json })
  } catch (e) {
    const { exitCode, code } = classify(e)
    const message = e instanceof Error ? e.message : String(e)
    if (json) io.stderr.write(toJson({ error: { code, message, exitCode } }))
    else io.stderr.write(`sigil: ${message}\n`)
    if (exitCode === 1 && code === 'INTERNAL' && e instanceof Error && e.stack && io.env.SIGIL_DEBUG) io.stderr.write(`${e.stack}\n`)
    return exitCode
  }
}
