import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Redis, type RedisOptions } from 'ioredis'
import { RECOMMENDED_REDIS_OPTIONS } from '../../packages/redis/src/redis-client.js'

/** The machine's shared Redis. CI starts it; when it does not answer, tests fail (never skip). */
export const SHARED_REDIS_PORT = Number(process.env.SIGIL_REDIS_PORT ?? 6379)

/** A prefix no other test run uses, so parallel files never collide. */
export function uniquePrefix(label = 't'): string {
  return `sigiltest:${label}:${process.pid}:${randomBytes(4).toString('hex')}`
}

/** Connect to the shared Redis with the recommended fail-fast options; throws when it does not answer. */
export async function connectShared(extra: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis({ host: '127.0.0.1', port: SHARED_REDIS_PORT, ...RECOMMENDED_REDIS_OPTIONS, lazyConnect: true, ...extra })
  try {
    await redis.connect()
    if ((await redis.ping()) !== 'PONG') throw new Error('no PONG')
  } catch (e) {
    redis.disconnect()
    throw new Error(`Redis on 127.0.0.1:${SHARED_REDIS_PORT} is not answering (CI must start it): ${(e as Error).message}`)
  }
  return redis
}

/** Delete every key under `prefix` (hash-tagged `{prefix:…}` and `{prefix}…` keys, and plain `prefix:…` ones). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let removed = 0
  for (const pattern of [`{${prefix}:*`, `{${prefix}}*`, `${prefix}:*`]) {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      if (keys.length) removed += await redis.del(...keys)
    } while (cursor !== '0')
  }
  return removed
}

/** A free TCP port on 127.0.0.1 (for a private redis-server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** A private redis-server the test owns (start, SIGKILL, restart on the same port). */
export interface PrivateRedis {
  readonly port: number
  start(): Promise<void>
  kill(): Promise<void>
  /** Send a signal (e.g. `SIGSTOP`, `SIGCONT`) to the running server. */
  signal(sig: NodeJS.Signals): void
}

/**
 * Manage a throw-away `redis-server` on `port`: no persistence, foreground, killed with the test.
 * `extra` arguments come last, so they override the defaults (e.g. `--save`, `--appendonly`, `--dir`).
 */
export function privateRedis(port: number, extra: readonly string[] = []): PrivateRedis {
  let proc: ChildProcess | undefined
  const waitUp = async () => {
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
      probe.on('error', () => {})
      try {
        await probe.connect()
        if ((await probe.ping()) === 'PONG') return
      } catch {
        // not up yet
      } finally {
        probe.disconnect()
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`private redis-server on ${port} did not start`)
  }
  return {
    port,
    async start() {
      proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extra],
        {
          stdio: 'ignore',
        },
      )
      await waitUp()
    },
    signal(sig) {
      proc?.kill(sig)
    },
    async kill() {
      const p = proc
      proc = undefined
      if (!p || p.exitCode !== null) return
      const exited = new Promise((r) => p.once('exit', r))
      p.kill('SIGKILL')
      await exited
    },
  }
}
