import { once } from 'node:events'
import { connectKeyCache, publishKeyChange, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uniquePrefix } from '../redis/helpers.js'
import { type PrivateCluster, privateCluster } from '../redis/private-cluster.js'

// Issue 23 item 6, Redis Cluster: the node that holds the fan-out's subscription stalls (SIGSTOP,
// shorter than the node timeout, so no failover). The old heartbeat PINGed any node through the
// cluster's command pool and kept believing the subscription was live, so a revocation published
// meanwhile was missed until the node came back (measured 16.7-56.9 s in the issue, with the
// cache TTL). The canary goes through the subscription itself.
const BOUND_MS = 3_000 // 2 s by design, plus slack for a loaded machine
const STALL_MS = 4_000

let cluster: PrivateCluster
beforeAll(async () => {
  cluster = await privateCluster(7040)
}, 90_000)
afterAll(() => cluster?.stop())

/** The port of the master whose client list shows a pub/sub subscriber (ours: the only one). */
async function subscriberPort(): Promise<number | undefined> {
  for (const port of cluster.ports) {
    const c = new Redis({ host: '127.0.0.1', port })
    try {
      const list = String(await c.call('CLIENT', 'LIST'))
      if (/ sub=[1-9]/.test(list)) return port
    } finally {
      c.disconnect()
    }
  }
  return undefined
}

describe('revocation fan-out on a Redis Cluster whose subscriber node stalls', () => {
  it(`a revocation published during the stall lands within ${BOUND_MS} ms`, async () => {
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], {
      redisOptions: { ...RECOMMENDED_REDIS_OPTIONS },
      enableOfflineQueue: false,
    })
    client.on('error', () => {})
    await once(client, 'ready')
    const prefix = uniquePrefix('cfan')
    let landed = 0
    const cache = {
      invalidate: (k: string) => {
        if (k === 'revokedKey02' && !landed) landed = performance.now()
      },
      clear: () => {
        if (!landed) landed = performance.now()
      },
    }
    const fanout = connectKeyCache(cache, client, { prefix })
    try {
      await fanout.ready
      await new Promise((r) => setTimeout(r, 300))
      const port = await subscriberPort()
      expect(port).toBeDefined()
      const node = cluster.nodes.get(port as number)
      // Publish through a node that keeps answering; the cluster bus carries it to every node.
      const other = cluster.ports.find((p) => p !== port) as number
      const publisher = new Redis({ host: '127.0.0.1', port: other })
      await once(publisher, 'ready')
      node?.signal('SIGSTOP')
      let lag: number
      try {
        landed = 0
        const revokedAt = performance.now()
        await publishKeyChange(publisher, { type: 'revoked', keyId: 'revokedKey02' }, { prefix })
        while (!landed && performance.now() - revokedAt < STALL_MS) await new Promise((r) => setTimeout(r, 10))
        lag = landed ? landed - revokedAt : Number.POSITIVE_INFINITY
      } finally {
        node?.signal('SIGCONT')
        publisher.disconnect()
      }
      console.log(
        `cluster subscriber node stalled ${STALL_MS / 1000} s: revocation landed after ${Number.isFinite(lag) ? `${(lag / 1000).toFixed(2)} s` : `more than ${STALL_MS / 1000} s (not during the stall)`}`,
      )
      expect(lag).toBeLessThan(BOUND_MS)
    } finally {
      await fanout.close()
      client.disconnect()
    }
  }, 90_000)
})
