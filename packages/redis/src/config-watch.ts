import { ConfigurationError } from '@sigil/core'
import type { Cluster, Redis } from 'ioredis'
import type { RedisClient } from './redis-client.js'

/**
 * What the stores know about the Redis they write to, read from `INFO` at start and every
 * `intervalMs`: whether eviction can remove live keys (then every store call fails closed with
 * `problem` as the cause), and the last instant (Redis' clock, ms) at which keys were evicted
 * (nonces recorded before it may be gone: the nonce store refuses signatures that could predate
 * it, as after a reset).
 */
export interface RedisConfigWatch {
  /** Resolves once the first reading of every master is in (or failed). */
  readonly ready: Promise<void>
  /** Why the stores refuse to answer, or undefined when the configuration is replay-safe. */
  readonly problem: Error | undefined
  /** Latest eviction observed (Redis time, ms); 0 when none. */
  readonly evictedAtMs: number
  /** Read the configuration again now. */
  check(): Promise<void>
  stop(): void
}

interface NodeState {
  evicted: number
}

const watched = new WeakMap<object, RedisConfigWatch>()

const field = (info: string, name: string): string | undefined => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()

/** `host:port` of a node, for messages an operator can act on (never a password). */
const addressOf = (node: Redis): string => `${node.options.host ?? '?'}:${node.options.port ?? '?'}`

/**
 * Watch the eviction settings of `client` (every master of a cluster). One watch per client,
 * shared by every store on it (later intervals are ignored). Timers are `unref`'d and stop with
 * the client.
 *
 * Replay-safe means eviction cannot remove a live nonce, rate-limit counter or epoch key:
 * `maxmemory 0`, or `maxmemory-policy noeviction` (a full Redis then refuses writes, and the
 * verifier answers 503). Every other policy — `volatile-*` evicts exactly the nonces (they have a
 * TTL), `allkeys-*` the nonces, counters and epochs — is refused, and so is a Redis that will not
 * answer `INFO` (nothing can be checked).
 */
export function watchRedisConfig(client: RedisClient, options: { intervalMs?: number } = {}): RedisConfigWatch {
  const existing = watched.get(client)
  if (existing) return existing
  const intervalMs = options.intervalMs ?? 10_000
  const nodes = new WeakMap<Redis, NodeState>()
  let problem: Error | undefined
  let evictedAtMs = 0
  let stopped = false
  let running: Promise<void> | undefined

  const masters = (): Redis[] =>
    'nodes' in client && typeof client.nodes === 'function' ? (client as Cluster).nodes('master') : [client as Redis]

  const readNode = async (node: Redis): Promise<Error | undefined> => {
    let memory: string
    let stats: string
    let time: Array<string | number>
    try {
      ;[memory, stats, time] = await Promise.all([node.info('memory'), node.info('stats'), node.time() as Promise<Array<string | number>>])
    } catch (e) {
      const message = e instanceof Error ? e.message : ''
      // Not answering is the liveness check's business (commands fail anyway); a refusal is ours.
      if (/NOPERM|unknown command|ERR/i.test(message))
        return new ConfigurationError(
          `Redis ${addressOf(node)} refuses INFO, so its eviction policy cannot be checked: allow INFO for this user (the nonce store fails closed until then)`,
          { cause: e },
        )
      return problem
    }
    const maxmemory = Number(field(memory, 'maxmemory') ?? '0')
    const policy = field(memory, 'maxmemory_policy') ?? 'unknown'
    const evicted = Number(field(stats, 'evicted_keys') ?? '0')
    const state = nodes.get(node)
    if (state && evicted > state.evicted) {
      const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
      evictedAtMs = Math.max(evictedAtMs, now)
    }
    nodes.set(node, { evicted })
    if (maxmemory > 0 && policy !== 'noeviction')
      return new ConfigurationError(
        `Redis ${addressOf(node)} has maxmemory ${maxmemory} with maxmemory-policy ${policy}: eviction can remove live nonces, rate-limit counters or the nonce epoch and let replays through. Set maxmemory-policy noeviction (or maxmemory 0); until then Sigil's Redis stores fail closed (503)`,
      )
    return undefined
  }

  const checkAll = async () => {
    const list = masters()
    let found: Error | undefined
    for (const node of list) {
      if (node.status !== 'ready') continue
      const p = await readNode(node)
      if (p && !found) found = p
    }
    problem = found
  }
  const check = (): Promise<void> => {
    if (stopped) return Promise.resolve()
    if (client.status === 'end') {
      stop()
      return Promise.resolve()
    }
    running ??= checkAll().finally(() => {
      running = undefined
    })
    return running
  }

  // The first reading, as soon as the client is ready (a store call waits for it).
  const ready = new Promise<void>((resolve) => {
    const first = () => void check().then(resolve, resolve)
    if (client.status === 'ready') first()
    else {
      client.once('ready', first)
      // A client that never gets ready: store calls fail on the connection anyway.
      setTimeout(resolve, 5_000).unref?.()
    }
  })
  const timer = setInterval(() => void check(), intervalMs)
  timer.unref?.()
  function stop() {
    stopped = true
    clearInterval(timer)
    watched.delete(client)
  }
  const watch: RedisConfigWatch = {
    ready,
    get problem() {
      return problem
    },
    get evictedAtMs() {
      return evictedAtMs
    },
    check,
    stop,
  }
  watched.set(client, watch)
  return watch
}

/** Validate a `configCheckMs` option. */
export function checkInterval(ms: number | undefined): number | undefined {
  if (ms === undefined) return undefined
  if (!Number.isInteger(ms) || ms < 100) throw new ConfigurationError('configCheckMs must be an integer of at least 100 ms')
  return ms
}
