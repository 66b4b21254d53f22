// verify() with the Redis nonce store and rate limiter beside the in-memory stores (issue 4).
// Self-contained: `tsx --conditions=source test/bench/redis-verify.ts` prints a table.
// Requests are signed before each timed batch; only verification is timed. Each entry keeps
// CONCURRENCY verifications in flight, as a server with concurrent requests does.
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { signRequest } from '@sigil/client'
import type { KeyRecord } from '@sigil/core'
import { createRedisNonceStore, createRedisRateLimiter, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { createMemoryNonceStore, createVerifier, type VerifyOptions } from '@sigil/server'
import { createMemoryRateLimiter } from '@sigil/server/rate-limit'
import { Redis } from 'ioredis'
import { incomingFromRequest } from '../../packages/server/src/internal/index.js'

/** One row of the result. */
export interface RedisVerifyResult {
  name: string
  opsPerSec: number
  p50Us: number
  p99Us: number
}

const CONCURRENCY = 16
const BATCH = 2_000
const URL_STRING = 'https://api.example.com/v1/orders?b=2&a=1'
const key: KeyRecord = {
  keyId: 'kBenchRedis01',
  secret: new Uint8Array(randomBytes(32)),
  principal: 'bench',
  scopes: [],
  status: 'active',
  createdAt: new Date(0),
  // Never reached: the limiter does its full Redis round trip on every request without saying no.
  rateLimits: { rate: { points: 1_000_000_000, windowMs: 1000 } },
}
const keys = { get: (id: string) => (id === key.keyId ? key : undefined) }

const signBatch = () =>
  Promise.all(Array.from({ length: BATCH }, () => signRequest(new Request(URL_STRING), { keyId: key.keyId, secret: key.secret })))

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number

async function measure(name: string, options: VerifyOptions, durationMs: number): Promise<RedisVerifyResult> {
  // Generous timeouts: on a loaded machine a slow answer is a data point, not a failure.
  const verifier = createVerifier({ storeTimeoutMs: 10_000, ...options })
  const latencies: number[] = []
  let failed = 0
  let busyMs = 0
  // Warm-up batch (JIT, connection, Lua script load); not counted.
  for (const r of await signBatch()) await verifier.verifyIncoming(incomingFromRequest(r, verifier))
  while (busyMs < durationMs) {
    const batch = await signBatch()
    let next = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batch.length) {
          const req = batch[next++] as Request
          const s = performance.now()
          try {
            await verifier.verifyIncoming(incomingFromRequest(req, verifier))
            latencies.push(performance.now() - s)
          } catch {
            failed++
          }
        }
      }),
    )
    busyMs += performance.now() - t0
  }
  if (failed) console.error(`${name}: ${failed} verifications failed (excluded)`)
  const sorted = Float64Array.from(latencies).sort()
  return {
    name,
    opsPerSec: Math.round(latencies.length / (busyMs / 1000)),
    p50Us: Math.round(percentile(sorted, 0.5) * 1000),
    p99Us: Math.round(percentile(sorted, 0.99) * 1000),
  }
}

async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 5000)
    cursor = next
    if (found.length) await redis.del(...found)
  } while (cursor !== '0')
}

/**
 * Throughput and p50/p99 latency of `verify()` on one process with memory stores, the Redis
 * nonce store, and the Redis nonce store + Redis rate limiter. Redis from `SIGIL_REDIS_URL`
 * (default `redis://127.0.0.1:6379`); its keys live under a unique prefix, deleted afterwards.
 *
 * @example
 * ```ts
 * const rows = await benchRedisVerify({ durationMs: 2_000 })
 * ```
 */
export async function benchRedisVerify(opts: { durationMs: number }): Promise<RedisVerifyResult[]> {
  const redis = new Redis(process.env.SIGIL_REDIS_URL ?? 'redis://127.0.0.1:6379', {
    ...RECOMMENDED_REDIS_OPTIONS,
    commandTimeout: 10_000,
    lazyConnect: true,
  })
  await redis.connect()
  const prefix = `sigilbench:${process.pid}:${randomBytes(4).toString('hex')}`
  try {
    const redisNonces = createRedisNonceStore(redis, { prefix })
    const c = `${CONCURRENCY} in flight`
    return [
      await measure(
        `verify, memory nonce store + memory limiter (${c})`,
        { keys, nonceStore: createMemoryNonceStore(), rateLimiter: createMemoryRateLimiter() },
        opts.durationMs,
      ),
      await measure(`verify, Redis nonce store (${c})`, { keys, nonceStore: redisNonces }, opts.durationMs),
      await measure(
        `verify, Redis nonce store + Redis limiter (${c})`,
        { keys, nonceStore: redisNonces, rateLimiter: createRedisRateLimiter(redis, {}, { prefix }) },
        opts.durationMs,
      ),
    ]
  } finally {
    await deletePrefix(redis, prefix)
    redis.disconnect()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchRedisVerify({ durationMs: Number(process.env.BENCH_MS ?? 3_000) })
  const w = Math.max(...rows.map((r) => r.name.length))
  console.log(`${'entry'.padEnd(w)}  ${'ops/s'.padStart(9)}  ${'p50 µs'.padStart(8)}  ${'p99 µs'.padStart(8)}`)
  for (const r of rows)
    console.log(`${r.name.padEnd(w)}  ${String(r.opsPerSec).padStart(9)}  ${String(r.p50Us).padStart(8)}  ${String(r.p99Us).padStart(8)}`)
}
