import { once } from 'node:events'
import { signRequest } from '@sigil/client'
import { type KeyRecord, VerificationError } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { createRedisNonceStore, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { createVerifier, type Verifier, verify } from '@sigil/server'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uniquePrefix } from '../redis/helpers.js'
import { type PrivateCluster, privateCluster } from '../redis/private-cluster.js'

// Issue 23 item 2: on a Redis Cluster with replicas, kill -9 a master and have it restarted before
// its replica takes over. It returns empty (no persistence), the replica re-syncs from it and is
// wiped too. Cluster clients used to skip the epoch, so every request accepted on that shard was
// accepted again (878/878 measured). Now the epoch lives per hash tag, next to the nonces.
const secret = randomBytes(32)
const key: KeyRecord = { keyId: 'clusterKey01', secret, principal: 'p', scopes: [], status: 'active', createdAt: new Date(0) }
const keys = { get: (id: string) => (id === key.keyId ? key : undefined) }
const N = 200

let cluster: PrivateCluster
beforeAll(async () => {
  cluster = await privateCluster(7030)
}, 90_000)
afterAll(() => cluster?.stop())

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

describe('Redis Cluster: a master SIGKILLed and restarted empty before failover', () => {
  it('accepts none of the requests accepted on that shard before the crash', async () => {
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], {
      redisOptions: { ...RECOMMENDED_REDIS_OPTIONS },
      enableOfflineQueue: false,
      slotsRefreshTimeout: 2_000,
    })
    client.on('error', () => {})
    await once(client, 'ready')
    try {
      const prefix = uniquePrefix('cluster')
      // Two instances on the same cluster: a replay may go to either.
      const a = createVerifier({ keys, nonceStore: createRedisNonceStore(client, { prefix }), storeTimeoutMs: 3_000 })
      const b = createVerifier({ keys, nonceStore: createRedisNonceStore(client, { prefix }), storeTimeoutMs: 3_000 })
      const requests = await Promise.all(Array.from({ length: N }, (_, i) => signed(i)))
      const before: string[] = []
      for (const [i, r] of requests.entries()) before.push(await outcome(i % 2 ? a : b, r))
      expect(tally(before)).toEqual({ accepted: N })

      const nonceKey = `{${prefix}:${key.keyId}}:nonce:x`
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', nonceKey))
      const master = await cluster.masterOf(slot)
      const replica = await cluster.replicaOf(master)
      const node = cluster.nodes.get(master)
      if (!node) throw new Error('no such node')
      await node.kill()
      await node.start() // well within cluster-node-timeout (5 s): no failover, the replica re-syncs
      await cluster.settled()
      const probe = new Redis({ host: '127.0.0.1', port: replica })
      expect(await probe.dbsize()).toBe(0) // the replica was wiped by the re-sync
      probe.disconnect()

      const after: string[] = []
      for (const [i, r] of requests.entries()) {
        let o = await outcome(i % 2 ? b : a, r)
        // The client reconnects to the restarted master: 503 meanwhile.
        for (let t = 0; t < 100 && o === '503 STORE_UNAVAILABLE'; t++) {
          await new Promise((res) => setTimeout(res, 50))
          o = await outcome(i % 2 ? b : a, r)
        }
        after.push(o)
      }
      const replayed = after.filter((x) => x === 'accepted').length
      console.log(`cluster master restarted empty before failover: ${replayed}/${N} replays accepted, ${JSON.stringify(tally(after))}`)
      expect(replayed).toBe(0)
      expect(tally(after)).toEqual({ '401 NONCE_STORE_RESET': N })
    } finally {
      client.disconnect()
    }
  }, 90_000)

  it('a failover to a replica without AOF is a reset too (replication is asynchronous: the last writes may be missing)', async () => {
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], {
      redisOptions: { ...RECOMMENDED_REDIS_OPTIONS },
      enableOfflineQueue: false,
    })
    client.on('error', () => {})
    await once(client, 'ready')
    try {
      const prefix = uniquePrefix('failover')
      const verifier = createVerifier({ keys, nonceStore: createRedisNonceStore(client, { prefix }), storeTimeoutMs: 3_000 })
      const requests = await Promise.all(Array.from({ length: 50 }, (_, i) => signed(1000 + i)))
      for (const r of requests) expect(await outcome(verifier, r)).toBe('accepted')
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `{${prefix}:${key.keyId}}:nonce:x`))
      const master = await cluster.masterOf(slot)
      const other = cluster.ports.find((p) => p !== master) as number
      await cluster.nodes.get(master)?.kill()
      // Wait for the replica to be promoted (cluster-node-timeout 5 s).
      const end = Date.now() + 30_000
      let promoted = master
      while (promoted === master && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 200))
        const probe = new Redis({ host: '127.0.0.1', port: other })
        try {
          const line = String(await probe.call('CLUSTER', 'NODES'))
            .split('\n')
            .find(
              (l) =>
                l.includes('master') &&
                !l.includes('fail') &&
                l
                  .split(' ')
                  .slice(8)
                  .some((r) => {
                    const [a, b] = r.split('-').map(Number)
                    return slot >= (a as number) && slot <= ((b ?? a) as number)
                  }),
            )
          if (line) promoted = Number(/:(\d+)@/.exec(line.split(' ')[1] as string)?.[1])
        } finally {
          probe.disconnect()
        }
      }
      expect(promoted).not.toBe(master)
      const after: string[] = []
      for (const r of requests) {
        let o = await outcome(verifier, r)
        for (let t = 0; t < 100 && o === '503 STORE_UNAVAILABLE'; t++) {
          await new Promise((res) => setTimeout(res, 100))
          o = await outcome(verifier, r)
        }
        after.push(o)
      }
      console.log(
        `cluster failover without AOF: ${after.filter((x) => x === 'accepted').length}/50 replays accepted, ${JSON.stringify(tally(after))}`,
      )
      // No replay is accepted. Refused as a reset when the script sees the new master's run_id; it
      // reads run_id only when LASTSAVE moved, and nodes started in the same second share one, so a
      // replica that has every nonce may refuse them as replays instead — both refuse.
      expect(after.filter((x) => x === 'accepted')).toEqual([])
      expect(Object.keys(tally(after)).every((k) => k === '401 NONCE_STORE_RESET' || k === '401 NONCE_REPLAYED')).toBe(true)
      await cluster.nodes.get(master)?.start() // back as a replica
    } finally {
      client.disconnect()
    }
  }, 90_000)

  it('refuses the cluster when one master may evict keys (503 with a ConfigurationError cause)', async () => {
    const port = cluster.ports[2] as number
    const admin = new Redis({ host: '127.0.0.1', port })
    const role = String(await admin.call('ROLE'))
    const master = role.startsWith('master') ? port : await cluster.masterOf(0)
    const node = new Redis({ host: '127.0.0.1', port: master })
    await node.config('SET', 'maxmemory', '100mb')
    await node.config('SET', 'maxmemory-policy', 'volatile-lru')
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], {
      redisOptions: { ...RECOMMENDED_REDIS_OPTIONS },
      enableOfflineQueue: false,
    })
    client.on('error', () => {})
    try {
      await once(client, 'ready')
      const causes: unknown[] = []
      const verifier = createVerifier({
        keys,
        nonceStore: createRedisNonceStore(client, { prefix: uniquePrefix('cevict') }),
        onError: (e) => causes.push((e as Error).cause),
      })
      expect(await outcome(verifier, await signed(0))).toBe('503 STORE_UNAVAILABLE')
      expect(String((causes[0] as Error)?.message)).toContain(
        `127.0.0.1:${master} has maxmemory 104857600 with maxmemory-policy volatile-lru`,
      )
    } finally {
      await node.config('SET', 'maxmemory', '0')
      client.disconnect()
      node.disconnect()
      admin.disconnect()
    }
  }, 30_000)
})
