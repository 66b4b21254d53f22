import { ConfigurationError, type NonceStore, VerificationError } from '@sigil/core'
import { checkOptions, optionNames } from '@sigil/core/internal'
import type { Redis } from 'ioredis'
import { checkInterval, watchRedisConfig } from './config-watch.js'
import { DEFAULT_PREFIX, keyLayout } from './key-layout.js'
import { keepRedisAlive, type RedisLivenessOptions, suspectOnError } from './liveness.js'
import { isRedisClient, type RedisClient } from './redis-client.js'

/** Options of {@link createRedisNonceStore}. */
export interface RedisNonceStoreOptions {
  /** Prefix of every key (inside the hash tag). Default `sigil`. */
  prefix?: string
  /** Liveness check of the client's connection ({@link keepRedisAlive}); `false` turns it off. */
  liveness?: RedisLivenessOptions | false
  /**
   * How often Redis' eviction settings (`maxmemory`, `maxmemory-policy`, `evicted_keys`) are read
   * again after the first reading at start. Default 10 000 ms. There is no switch to turn it off:
   * a Redis that may evict nonces is refused (503), whatever else is configured.
   */
  configCheckMs?: number
}

const NONCE_STORE_OPTION_NAMES = optionNames<RedisNonceStoreOptions>({ prefix: true, liveness: true, configCheckMs: true })

/**
 * KEYS: nonce, epoch. ARGV: ttl ms, created s ('' when unknown), window s, seen, floor ms (a loss
 * the process saw itself, e.g. an eviction; '0' for none). `seen` is `p<ms>` when this process has
 * never seen the epoch (a missing one is then a first start, dated `ms` back), else `e<ms>`, the
 * epoch it saw last: a missing epoch, or a first-start epoch other than that one (recreated by a
 * process that started after the loss), is a loss. Returns { verdict, epoch ms }.
 *
 * The epoch says since when this Redis surely holds every nonce recorded under its hash tag:
 * `<kind><ms>|<run_id>|<LASTSAVE>`. Kind `r` is a reset the store detected: any signature whose
 * acceptance interval began before it (`created - window`) may have been accepted before the
 * loss and is refused (-1). Kind `s` is a first start (no epoch yet, on a process that never saw
 * one): signatures created before it are refused; it is dated back (`prime`) so requests signed
 * as the service starts pass.
 *
 * A reset is: the epoch missing where this process saw it before (restart without persistence,
 * flush, failover to an emptied replica); `run_id` changed without AOF (a restart from an RDB
 * snapshot, which replays what came after the snapshot, or a failover to a replica that may
 * lack the last writes); or an eviction the process saw. `run_id` costs an INFO call, so it is
 * read only when LASTSAVE changed (every restart and every save sets it) or within 2 s of it
 * (LASTSAVE counts whole seconds).
 */
const CHECK_AND_SET = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local saved = tostring(redis.call('LASTSAVE'))
local function runId() return string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') or '' end
local raw = redis.call('GET', KEYS[2])
local seen, known = string.sub(ARGV[4], 1, 1), tonumber(string.sub(ARGV[4], 2))
local kind, epoch, rid, ls
local dirty = false
if raw then
  kind, epoch, rid, ls = string.match(raw, '^(%a)(%d+)|(%w*)|(%d*)$')
  if kind then epoch = tonumber(epoch) else kind, epoch, rid, ls = 's', tonumber(raw) or 0, '', '' end
  if seen == 'e' and kind == 's' and epoch ~= known then kind, epoch, dirty = 'r', now, true end
  if ls ~= saved or now - tonumber(saved) * 1000 < 2000 then
    local cur = runId()
    if rid ~= '' and cur ~= rid and not string.find(redis.call('INFO', 'persistence'), 'aof_enabled:1', 1, true) then
      kind, epoch = 'r', now
    end
    if cur ~= rid or ls ~= saved then rid, ls, dirty = cur, saved, true end
  end
else
  rid, ls, dirty = runId(), saved, true
  if seen == 'p' then kind, epoch = 's', now - known else kind, epoch = 'r', now end
end
local floor = tonumber(ARGV[5])
if floor > 0 and (kind ~= 'r' or floor > epoch) then kind, epoch, dirty = 'r', math.max(epoch, floor), true end
if dirty then redis.call('SET', KEYS[2], string.format('%s%d|%s|%s', kind, epoch, rid, ls)) end
if ARGV[2] ~= '' then
  local from = tonumber(ARGV[2]) * 1000
  if kind == 'r' then from = from - tonumber(ARGV[3]) * 1000 end
  if from < epoch then return { -1, epoch } end
end
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return { 1, epoch } end
return { 0, epoch }`

type WithScripts = RedisClient & {
  sigilNonceCheck(
    nonceKey: string,
    epochKey: string,
    ttl: string,
    created: string,
    window: string,
    seen: string,
    floor: string,
  ): Promise<[number, number]>
}

/** Epochs this process has seen, so that a missing one is a loss and not a first start. Bounded. */
const MAX_SEEN = 100_000

/**
 * Replay protection shared by every instance: one atomic `SET key 1 NX PX ttl` per request, keyed
 * by (keyId, nonce) as `{<prefix>:<keyId>}:nonce:<nonce>`. Of any number of concurrent claims of
 * a pair, on any number of servers, exactly one wins. When Redis cannot answer the call rejects,
 * and the verifier turns that into `STORE_UNAVAILABLE` (503): nothing is accepted without its
 * replay check. Configure the client with {@link RECOMMENDED_REDIS_OPTIONS} so that happens
 * quickly.
 *
 * **A Redis that lost writes** (restarted without persistence or from an RDB snapshot, flushed,
 * failed over to a replica that lacks them, keys evicted) would accept replays of everything
 * signed in the last window. The store keeps an epoch next to the nonces — one key
 * `{<prefix>}:nonce-epoch` on a single node, one per hash tag `{<prefix>:<keyId>}:nonce-epoch`
 * on a Cluster, so it shares the nonce's slot — checked in the same Lua call as the `SET NX`.
 * When it shows a loss, every signature whose acceptance interval began before it
 * (`created - window`) is refused with `NONCE_STORE_RESET` (401, like `NONCE_REPLAYED`) until the
 * window has passed. Redis' eviction settings are read at start and every `configCheckMs`: a
 * Redis that may evict keys (`maxmemory` with any policy but `noeviction`) makes every call fail
 * (503) with a `ConfigurationError` cause naming the node and the fix.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { createRedisNonceStore, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
 * const redis = new Redis(process.env.REDIS_URL!, RECOMMENDED_REDIS_OPTIONS)
 * const nonceStore = createRedisNonceStore(redis, { prefix: 'myapp' })
 * await verify(request, { keys, nonceStore })
 * ```
 */
export function createRedisNonceStore(client: RedisClient, options: RedisNonceStoreOptions = {}): NonceStore {
  if (!isRedisClient(client)) throw new ConfigurationError('createRedisNonceStore needs an ioredis client')
  checkOptions('Redis nonce store options', options, NONCE_STORE_OPTION_NAMES)
  const layout = keyLayout(options.prefix ?? DEFAULT_PREFIX)
  const live = options.liveness === false ? undefined : keepRedisAlive(client, options.liveness)
  const failed = live ? suspectOnError(live) : (e: unknown) => Promise.reject(e)
  const config = watchRedisConfig(client, { intervalMs: checkInterval(options.configCheckMs) })
  const cluster = 'nodes' in client && typeof client.nodes === 'function'
  const redis = client as WithScripts
  if (typeof redis.sigilNonceCheck !== 'function') {
    // EVALSHA with a fallback to EVAL (a restarted Redis has no script cache); on a Cluster it
    // goes to the slot of the first key, which the epoch shares.
    ;(client as Redis).defineCommand('sigilNonceCheck', { numberOfKeys: 2, lua: CHECK_AND_SET })
  }
  const seen = new Map<string, number>()
  if (!cluster) {
    // Once per store, at creation only: a reconnect to an emptied Redis must find no epoch.
    const primeNow = () => {
      redis.sigilNonceCheck(layout.nonce('_', '_prime'), layout.epoch, '1', '', '0', 'p1000', '0').then(
        ([, epoch]) => {
          if (!seen.has(layout.epoch)) seen.set(layout.epoch, epoch)
        },
        () => {},
      )
    }
    if (client.status === 'ready') primeNow()
    else client.once('ready', primeNow)
  }
  let configReady = false
  void config.ready.then(() => {
    configReady = true
  })
  return {
    async checkAndSet(keyId, nonce, ttlMs, createdS, windowS) {
      if (!configReady) {
        // Without a connection the call fails anyway; with one, the first reading comes first.
        if (client.status !== 'ready') throw new Error('Redis is not connected')
        await config.ready
      }
      const problem = config.problem
      if (problem) throw problem
      const epochKey = cluster ? layout.tagEpoch(keyId) : layout.epoch
      const ttl = String(Math.max(1, Math.ceil(ttlMs)))
      const created = typeof createdS === 'number' && Number.isFinite(createdS) ? String(Math.floor(createdS)) : ''
      const window = typeof windowS === 'number' && Number.isFinite(windowS) && windowS > 0 ? String(Math.ceil(windowS)) : '0'
      // A store primes the single node's epoch as it starts (dated 1 s back); a Cluster's epoch per
      // tag is first seen on a request, so it is dated a window back: it refuses nothing then.
      const known = seen.get(epochKey)
      const seenArg = known !== undefined ? `e${known}` : cluster ? `p${Number(window) * 1000}` : 'p1000'
      const floor = String(config.evictedAtMs)
      const [r, epoch] = await redis
        .sigilNonceCheck(layout.nonce(keyId, nonce), epochKey, ttl, created, window, seenArg, floor)
        .catch(failed)
      if (known !== epoch) {
        if (seen.size >= MAX_SEEN) seen.clear()
        seen.set(epochKey, epoch)
      }
      if (r === -1)
        throw new VerificationError('NONCE_STORE_RESET', 'the nonce store may have lost records made while this signature was valid')
      return r === 1
    },
  }
}
