import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signRequest } from '@sigil/client'
import { type KeyRecord, VerificationError } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { createRedisNonceStore, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { createVerifier, type Verifier, verify } from '@sigil/server'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { privateRedis, uniquePrefix } from '../redis/helpers.js'

// Issue 23 item 4: a Redis restarted from an RDB snapshot has the snapshot's epoch but not the
// nonces recorded after it. Measured on main: every request accepted after the last snapshot was
// accepted again. A restart (new run_id) without AOF must count as a reset; with AOF it is not.
const secret = randomBytes(32)
const key: KeyRecord = { keyId: 'rdbRestore01', secret, principal: 'p', scopes: [], status: 'active', createdAt: new Date(0) }
const keys = { get: (id: string) => (id === key.keyId ? key : undefined) }
const N = 200
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function outcome(verifier: Verifier, req: Request): Promise<string> {
  try {
    await verify(req.clone(), verifier)
    return 'accepted'
  } catch (e) {
    if (e instanceof VerificationError) return `${e.status} ${e.code}`
    throw e
  }
}
const tally = (xs: string[]) => Object.fromEntries([...new Set(xs)].map((s) => [s, xs.filter((x) => x === s).length]))
const signed = (i: number) => signRequest(new Request(`https://api.example.com/v1/orders?i=${i}`), { keyId: key.keyId, secret })
const until = async (cond: () => Promise<boolean> | boolean, ms: number) => {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Accept N before a snapshot and N after it, SIGKILL, restart from disk, replay both halves. */
async function scenario(port: number, persistence: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-rdb-'))
  dirs.push(dir)
  // The default save points: a snapshot at most every 60 s under load, so the last seconds of
  // writes are only in memory when the process dies.
  const server = privateRedis(port, ['--save', '3600 1 300 100 60 10000', '--dir', dir, ...persistence])
  await server.start()
  const client = new Redis({ host: '127.0.0.1', port, ...RECOMMENDED_REDIS_OPTIONS })
  client.on('error', () => {})
  try {
    await once(client, 'ready')
    const prefix = uniquePrefix('rdb')
    const verifier = createVerifier({ keys, nonceStore: createRedisNonceStore(client, { prefix }), storeTimeoutMs: 2_000 })
    const requests = await Promise.all(Array.from({ length: 2 * N }, (_, i) => signed(i)))
    const before: string[] = []
    for (const r of requests.slice(0, N)) before.push(await outcome(verifier, r))
    // A snapshot now (as a save point would), then N more that only live in memory (and the AOF).
    await new Promise((r) => setTimeout(r, 1_100)) // LASTSAVE counts seconds: not the start's
    const last = await client.lastsave()
    await client.bgsave()
    await until(async () => (await client.lastsave()) !== last, 10_000)
    for (const r of requests.slice(N)) before.push(await outcome(verifier, r))
    expect(tally(before)).toEqual({ accepted: 2 * N })

    await server.kill()
    await server.start()
    await until(() => client.status === 'ready', 10_000)
    const after: string[] = []
    for (const r of requests) after.push(await outcome(verifier, r))
    const replayed = after.filter((x) => x === 'accepted').length
    // A fresh request: after a reset only once its window began after it; otherwise at once.
    const fresh = await outcome(verifier, await signed(2 * N))
    return { replayed, after: tally(after), fresh, server }
  } finally {
    client.disconnect()
    await server.kill()
  }
}

describe('Redis restored from an RDB snapshot after SIGKILL', () => {
  it('RDB only: refuses every request accepted before the crash, those after the snapshot included', async () => {
    const r = await scenario(7010, ['--appendonly', 'no'])
    console.log(`RDB restore (save points, no AOF): ${r.replayed}/${2 * N} replays accepted after the restart, ${JSON.stringify(r.after)}`)
    expect(r.replayed).toBe(0)
    // The snapshot's nonces are gone as evidence too: the restart is a reset for all of them.
    expect(r.after).toEqual({ '401 NONCE_STORE_RESET': 2 * N })
    expect(r.fresh).toBe('401 NONCE_STORE_RESET')
  }, 60_000)

  it('AOF (appendfsync everysec): nothing is lost, so a restart is no reset: replays are NONCE_REPLAYED, fresh requests pass', async () => {
    const r = await scenario(7011, ['--appendonly', 'yes', '--appendfsync', 'everysec'])
    console.log(`AOF restore: ${r.replayed}/${2 * N} replays accepted after the restart, ${JSON.stringify(r.after)}`)
    expect(r.replayed).toBe(0)
    expect(r.after).toEqual({ '401 NONCE_REPLAYED': 2 * N })
    expect(r.fresh).toBe('accepted')
  }, 60_000)
})
