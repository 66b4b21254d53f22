import type { CliIo } from './io.js'

/** Reports a long command's progress on stderr; `done()` ends it. */
export interface Progress {
  /** `total` undefined: not known in advance (a count is shown, no bar). */
  update(done: number, total?: number, extra?: Record<string, number>): void
  done(): void
}

const WIDTH = 30

/**
 * Progress on stderr, stdout staying the command's result: a bar redrawn in place on a TTY;
 * with `--json`, one JSON line per update (`{"progress":"…","done":…,"total":…}`); otherwise a
 * plain line at most every `everyMs` (and the last one), so logs stay short.
 *
 * @example
 * ```ts
 * const p = progress(ctx, 're-encrypting')
 * await store.rotateMasterKey({ onProgress: (x) => p.update(x.done, x.total) })
 * p.done()
 * ```
 */
export function progress(ctx: { io: CliIo; json: boolean }, what: string, everyMs = 2000): Progress {
  const err = ctx.io.stderr
  const tty = !ctx.json && (err as { isTTY?: boolean }).isTTY === true
  const clock = ctx.io.now ?? Date.now
  const started = clock()
  let last = Number.NEGATIVE_INFINITY
  let pending: string | undefined
  let drawn = false
  return {
    update(done, total, extra = {}) {
      const t = clock()
      if (ctx.json) {
        err.write(`${JSON.stringify({ progress: what, done, total, ...extra })}\n`)
        return
      }
      const pct = total === undefined ? undefined : total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100
      const rate = t > started ? Math.round((done / (t - started)) * 1000) : 0
      if (tty) {
        const fill = Math.round(((pct ?? 0) / 100) * WIDTH)
        const bar = pct === undefined ? `${done}` : `[${'#'.repeat(fill)}${'-'.repeat(WIDTH - fill)}] ${pct}% ${done}/${total}`
        err.write(`\r${what} ${bar} (${rate}/s)`)
        drawn = true
        return
      }
      const line = pct === undefined ? `${what}: ${done}\n` : `${what}: ${done}/${total} (${pct}%)\n`
      if (t - last >= everyMs) {
        err.write(line)
        last = t
        pending = undefined
      } else pending = line
    },
    done() {
      if (tty && drawn) err.write('\n')
      else if (pending) err.write(pending)
      pending = undefined
    },
  }
}
