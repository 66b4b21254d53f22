import { once } from 'node:events'
import { connectKeyCache, publishKeyChange, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type PrivateRedis, privateRedis, uniquePrefix } from './helpers.js'

let server: PrivateRedis
beforeAll(async () => {
  server = privateRedis(await freePort())
  await server.start()
})
afterAll(() => server.kill())

const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('revocation fan-out when the subscription is lost', () => {
  it('drops the cache every fallbackTtlMs while Redis is gone, then resubscribes and hears changes again', async () => {
    const prefix = uniquePrefix('resub')
    const client = new Redis({ port: server.port, host: '127.0.0.1', ...RECOMMENDED_REDIS_OPTIONS })
    client.on('error', () => {})
    await once(client, 'ready')
    const log: string[] = []
    const cache = { invalidate: (k: string) => log.push(`invalidate:${k}`), clear: () => log.push('clear') }
    const fanout = connectKeyCache(cache, client, { prefix, fallbackTtlMs: 100 })
    await fanout.ready

    await server.kill()
    await until(() => !fanout.subscribed, 2_000)
    log.length = 0
    await new Promise((r) => setTimeout(r, 450))
    // A short TTL in effect: a revocation made meanwhile is picked up within fallbackTtlMs.
    expect(log.filter((l) => l === 'clear').length).toBeGreaterThanOrEqual(3)

    await server.start()
    await until(() => fanout.subscribed, 5_000)
    await until(() => client.status === 'ready', 5_000)
    log.length = 0
    await publishKeyChange(client, { type: 'revoked', keyId: 'afterRestart1' }, { prefix })
    await until(() => log.includes('invalidate:afterRestart1'), 2_000)
    // Back on pub/sub: no more periodic drops.
    log.length = 0
    await new Promise((r) => setTimeout(r, 300))
    expect(log).toEqual([])
    await fanout.close()
    client.disconnect()
  }, 20_000)
})
