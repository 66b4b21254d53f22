import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Answer, keyDatabase, pool, send, signedHeaders } from './cluster.js'
import { freePort, type PrivateRedis, privateRedis, uniquePrefix } from './helpers.js'
import { type Instance, startInstances, stopInstances } from './instances.js'

// A private redis-server: the machine's shared one on 6379 is never stopped.
let redis: PrivateRedis
let db: ReturnType<typeof keyDatabase>
let instances: Instance[] = []
const STORE_TIMEOUT_MS = 400

beforeAll(async () => {
  redis = privateRedis(await freePort())
  await redis.start()
  db = keyDatabase()
  instances = await startInstances(3, {
    ...db.env,
    SIGIL_PREFIX: uniquePrefix('outage'),
    SIGIL_REDIS_PORT: String(redis.port),
    SIGIL_STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
    SIGIL_COMMAND_TIMEOUT_MS: '250',
    // After Redis comes back empty, signatures are refused for one window (the reset rule): a
    // short one, so the recovery fits the test.
    SIGIL_WINDOW_MS: '4000',
  })
}, 60_000)

afterAll(async () => {
  await stopInstances(instances)
  await db?.close()
  await redis?.kill()
})

interface Trial {
  sentAt: number
  answers: Answer[]
  ms: number
}

describe('Redis stopped in the middle of a bounded load', () => {
  it('answers 503 or correctly, never accepts a replay, and recovers when Redis is back', async () => {
    // A rate limit that the load never reaches, so the limiter talks to Redis on every request.
    const key = await db.createKey({ rate: { points: 100_000, windowMs: 1000 } })
    const KILL_AT = 1_500
    const RESTART_AT = 3_500
    const END_AT = 10_000
    const t0 = performance.now()
    const phases = (async () => {
      await new Promise((r) => setTimeout(r, KILL_AT))
      await redis.kill()
      await new Promise((r) => setTimeout(r, RESTART_AT - KILL_AT))
      await redis.start()
    })()
    const trials: Trial[] = []
    let n = 0
    await pool(1_000_000, 8, async () => {
      const sentAt = performance.now() - t0
      if (sentAt > END_AT) return
      const i = n++
      const path = `/v1/orders?trial=${i}`
      const headers = await signedHeaders(key, path)
      // Every trial is also a replay attempt: the same signed request to two instances at once.
      const pair = [instances[i % 3], instances[(i + 1) % 3]] as Instance[]
      const answers = await Promise.all(pair.map((inst) => send(inst.url, path, headers)))
      trials.push({ sentAt, answers, ms: performance.now() - t0 - sentAt })
    })
    await phases

    const all = trials.flatMap((t) => t.answers.map((a) => `${a.status} ${a.code ?? ''}`.trim()))
    const tally = Object.fromEntries([...new Set(all)].map((s) => [s, all.filter((x) => x === s).length]))
    const down = trials.filter((t) => t.sentAt > KILL_AT + 50 && t.sentAt < RESTART_AT)
    const late = trials.filter((t) => t.sentAt > RESTART_AT + 5_500)
    const worst = Math.max(...trials.map((t) => t.ms))
    console.log(`outage: ${trials.length} trials, answers ${JSON.stringify(tally)}, slowest trial ${worst.toFixed(0)} ms`)

    // NONCE_STORE_RESET: signed before Redis came back empty (its epoch), refused rather than risk a replay.
    for (const s of Object.keys(tally)) expect(['200', '401 NONCE_REPLAYED', '503 STORE_UNAVAILABLE', '401 NONCE_STORE_RESET']).toContain(s)
    for (const t of trials) expect(t.answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(1)
    // While Redis is gone nothing is accepted, and nobody waits much longer than the store timeout.
    expect(down.length).toBeGreaterThan(10)
    for (const t of down) for (const a of t.answers) expect(a.status).toBe(503)
    expect(worst).toBeLessThan(STORE_TIMEOUT_MS * 5)
    // Recovered on its own: once Redis is back every trial is accepted exactly once again.
    expect(late.length).toBeGreaterThan(10)
    for (const t of late) expect(t.answers.map((a) => a.status).sort()).toEqual([200, 401])
  }, 60_000)
})
