import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { signRequest } from '@sigil/client'
import { type KeyRecord, VerificationError } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { createRedisNonceStore, createRedisRateLimiter, RECOMMENDED_REDIS_OPTIONS } from '@sigil/redis'
import { createMemoryNonceStore, type VerifyOptions, verify } from '@sigil/server'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type PrivateRedis, privateRedis, uniquePrefix } from './helpers.js'

const secret = randomBytes(32)
const key: KeyRecord = { keyId: 'failClosed01', secret, principal: 'p', scopes: [], status: 'active', createdAt: new Date(0) }
const keys = { get: (id: string) => (id === key.keyId ? key : undefined) }
const prefix = uniquePrefix('closed')
const signed = () => signRequest(new Request('https://api.example.com/v1/orders'), { keyId: key.keyId, secret })

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'accepted'
  } catch (e) {
    if (e instanceof VerificationError) return `${e.status} ${e.code}`
    throw e
  }
}

// A "Redis" that accepts connections and never answers: a hung server or a black-holed network.
let hung: Server
let hungPort = 0
const sockets: Socket[] = []
beforeAll(async () => {
  hung = createServer((s) => sockets.push(s))
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r))
  hungPort = (hung.address() as { port: number }).port
})
afterAll(() => {
  for (const s of sockets) s.destroy()
  hung.close()
})

describe('fail closed', () => {
  it('answers STORE_UNAVAILABLE (503) within the timeout when Redis does not answer', async () => {
    const client = new Redis({ port: hungPort, host: '127.0.0.1', ...RECOMMENDED_REDIS_OPTIONS, commandTimeout: 5_000 })
    client.on('error', () => {})
    // Connected but silent: ioredis waits for a reply; the verifier's own deadline decides.
    await new Promise((r) => setTimeout(r, 50))
    const options: VerifyOptions = { keys, nonceStore: createRedisNonceStore(client, { prefix }), storeTimeoutMs: 200 }
    const t = performance.now()
    expect(await outcome(verify(await signed(), options))).toBe('503 STORE_UNAVAILABLE')
    expect(performance.now() - t).toBeLessThan(1_000)
    client.disconnect()
  })

  it('fails at once when the connection is refused (no offline queue)', async () => {
    const client = new Redis({ port: await freePort(), host: '127.0.0.1', ...RECOMMENDED_REDIS_OPTIONS })
    client.on('error', () => {})
    const options: VerifyOptions = { keys, nonceStore: createRedisNonceStore(client, { prefix }), storeTimeoutMs: 2_000 }
    const t = performance.now()
    expect(await outcome(verify(await signed(), options))).toBe('503 STORE_UNAVAILABLE')
    expect(performance.now() - t).toBeLessThan(300)
    client.disconnect()
  })

  it('a Redis rate limiter that cannot answer never lets a request through', async () => {
    const client = new Redis({ port: await freePort(), host: '127.0.0.1', ...RECOMMENDED_REDIS_OPTIONS })
    client.on('error', () => {})
    const options: VerifyOptions = {
      keys,
      nonceStore: createMemoryNonceStore(),
      rateLimiter: createRedisRateLimiter(client, { rate: { points: 1_000, windowMs: 1000 } }, { prefix }),
    }
    for (let i = 0; i < 5; i++) expect(await outcome(verify(await signed(), options))).toBe('503 STORE_UNAVAILABLE')
    client.disconnect()
  })

  describe('with a private redis-server that goes away and comes back', () => {
    let server: PrivateRedis
    beforeAll(async () => {
      server = privateRedis(await freePort())
      await server.start()
    })
    afterAll(() => server.kill())

    it('recovers on its own, with the same client, once Redis returns', async () => {
      const client = new Redis({ port: server.port, host: '127.0.0.1', ...RECOMMENDED_REDIS_OPTIONS })
      client.on('error', () => {})
      // Without an offline queue, commands sent before the first connect fail: wait for it (as an app should before listen()).
      await once(client, 'ready')
      const options: VerifyOptions = {
        keys,
        nonceStore: createRedisNonceStore(client, { prefix }),
        rateLimiter: createRedisRateLimiter(client, { rate: { points: 1_000, windowMs: 1000 } }, { prefix }),
        storeTimeoutMs: 300,
        // After Redis comes back empty, signatures are refused for one window (the reset rule).
        windowMs: 2_000,
      }
      expect(await outcome(verify(await signed(), options))).toBe('accepted')
      await server.kill()
      expect(await outcome(verify(await signed(), options))).toBe('503 STORE_UNAVAILABLE')
      await server.start()
      const back = performance.now()
      let last = ''
      while (performance.now() - back < 5_000) {
        last = await outcome(verify(await signed(), options))
        if (last === 'accepted') break
        // NONCE_STORE_RESET: Redis came back empty; signatures dated before that are refused for a moment.
        expect(['503 STORE_UNAVAILABLE', '401 NONCE_STORE_RESET']).toContain(last)
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(last).toBe('accepted')
      client.disconnect()
    })
  })
})
