import { classify, EXIT, usageError } from './exit-codes.js'
import { toJson } from './format.js'
import { type CliIo, type Command, processIo } from './io.js'

/**
 * What `--help` prints for a command: its help text, and for a command with subcommands the
 * usage line of each (so `sigil admin serve --help` answers without starting anything).
 */
export interface CommandHelp {
  usage: string
  subcommands?: Record<string, { usage: string }>
}

/** A top-level command: a summary, its implementation and its help, each loaded lazily. */
export interface CommandEntry {
  summary: string
  load: () => Promise<Command>
  help: () => Promise<CommandHelp>
}

/** Top-level commands, loaded lazily so `sigil keys list` does not load the HTTP client. */
export const COMMANDS: Record<string, CommandEntry> = {
  keys: {
    summary: 'create, list, show, rotate, revoke keys; change scopes',
    load: async () => (await import('./commands/keys.js')).keys,
    help: async () => {
      const m = await import('./commands/keys.js')
      return { usage: m.keysHelp(), subcommands: m.KEYS_COMMANDS }
    },
  },
  'master-key': {
    summary: 'generate a master key; re-encrypt secrets under a new one',
    load: async () => (await import('./commands/master-key.js')).masterKey,
    help: async () => {
      const m = await import('./commands/master-key.js')
      return { usage: m.USAGE, subcommands: m.MASTER_KEY_COMMANDS }
    },
  },
  curl: {
    summary: 'send a signed request (curl-like flags)',
    load: async () => (await import('./commands/curl.js')).curl,
    help: async () => ({ usage: `${(await import('./commands/curl.js')).USAGE}\n` }),
  },
  admin: {
    summary: 'run the developer portal (admin API + dashboard); sign-in and invite links',
    load: async () => (await import('./commands/admin.js')).admin,
    help: async () => {
      const m = await import('./commands/admin.js')
      return { usage: m.USAGE, subcommands: m.ADMIN_COMMANDS }
    },
  },
  presign: {
    summary: 'print a presigned URL (a link that works without a key until it expires)',
    load: async () => (await import('./commands/presign.js')).presign,
    help: async () => ({ usage: `${(await import('./commands/presign.js')).USAGE}\n` }),
  },
  explain: {
    summary: 'show the signature base of a request and which check fails',
    load: async () => (await import('./commands/explain.js')).explain,
    help: async () => ({ usage: `${(await import('./commands/explain.js')).USAGE}\n` }),
  },
}

/** `--help`/`-h` anywhere before a `--`, or `help` where a subcommand goes. */
function asksForHelp(args: readonly string[]): boolean {
  if (args[0] === 'help') return true
  for (const a of args) {
    if (a === '--') return false
    if (a === '--help' || a === '-h') return true
  }
  return false
}

/**
 * Help for `sigil NAME … --help`, printed before the command runs so that asking for help never
 * acts: no server, no sign-in link, no store opened, no request sent. One place for
 * every command, so a new command or subcommand gets it by being in the table.
 */
async function printHelp(name: string, entry: CommandEntry, rest: readonly string[], io: CliIo): Promise<number> {
  const h = await entry.help()
  const sub = rest[0]
  if (h.subcommands && sub !== undefined && sub !== 'help' && !sub.startsWith('-')) {
    const s = Object.hasOwn(h.subcommands, sub) ? h.subcommands[sub] : undefined
    if (!s) throw usageError(`unknown command: ${name} ${sub}\n${h.usage}`)
    io.stdout.write(`usage: ${s.usage}\n`)
    return EXIT.OK
  }
  io.stdout.write(h.usage)
  return EXIT.OK
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
    const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
    if (!cmd) throw usageError(`unknown command: ${name}\n${help()}`)
    if (asksForHelp(rest)) return await printHelp(name, cmd, rest, io)
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
