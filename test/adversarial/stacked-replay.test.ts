// Issue 23 item 1: a stacked sigil() relies only on a replay check that was actually made. An inner
// verifier skips its own nonce check only when the outer one recorded the same pair in the same
// store instance for at least as long; a multi-use link, or another store, leaves it to check
// itself. Real sockets on every adapter with stacked middleware, and the shared Redis.

import { connect } from 'node:net'
import { presignUrl, signRequest } from '@sigil/client'
import type { NonceStore } from '@sigil/core'
import { createRedisNonceStore } from '@sigil/redis'
import { createMemoryNonceStore } from '@sigil/server'
import type { SigilOptions } from '@sigil/server/express'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectShared, deletePrefix, uniquePrefix } from '../redis/helpers.js'
import { rawBytes, STACKABLE, startApp } from './adapter-apps.js'
import { KEY_ID, SECRET, type Wire } from './harness.js'

const HOST = 'api.example.com'
const keys = { [KEY_ID]: SECRET }

/** A signed request for `target` on HOST, signed now (real clock: the Redis store dates its epoch). */
async function signedPost(target: string, body = '{"amount":100}'): Promise<Wire> {
  const bytes = new TextEncoder().encode(body)
  const signed = await signRequest(
    new Request(`http://${HOST}${target}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bytes }),
    { keyId: KEY_ID, secret: SECRET },
  )
  return { method: 'POST', scheme: 'http', target, headers: [['Host', HOST], ...signed.headers], body: bytes, framing: 'content-length' }
}

async function link(target: string): Promise<Wire> {
  const url = await presignUrl(`http://${HOST}${target}`, { keyId: KEY_ID, secret: SECRET, expiresInMs: 600_000 })
  return {
    method: 'GET',
    scheme: 'http',
    target: url.slice(`http://${HOST}`.length),
    headers: [['Host', HOST]],
    body: null,
    framing: 'content-length',
  }
}

/**
 * Write the request and wait for the server to close (the request says `Connection: close`),
 * without half-closing first: with a store that answers over the network, a FIN from the client
 * before the answer ends the exchange early on some adapters (sendRaw's end()).
 */
function send(port: number, w: Wire): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.write(rawBytes(w)))
    s.on('data', (d) => parts.push(d))
    s.on('error', () => {})
    s.on('close', () => {
      const text = Buffer.concat(parts).toString('utf8')
      if (/^HTTP\/1\.1 200 /.test(text)) resolve('ok')
      else resolve(/"code":"([A-Z_]+)"/.exec(text)?.[1] ?? `HTTP ${text.slice(9, 12) || 'closed'}`)
    })
  })
}

/** How many of `times` sends of the same request were accepted, by port in turn. */
async function accepted(ports: number[], w: Wire, times: number): Promise<{ ok: number; codes: string[] }> {
  const codes: string[] = []
  for (let i = 0; i < times; i++) codes.push(await send(ports[i % ports.length] as number, w))
  return { ok: codes.filter((c) => c === 'ok').length, codes }
}

describe.each(STACKABLE)('stacked sigil() on %s', (name) => {
  it('a presigned: { singleUse: true } area behind an app-wide presigned: true works once only', async () => {
    const app = await startApp(name, {
      options: { keys, presigned: true, nonceStore: createMemoryNonceStore() },
      inner: { prefix: '/files', options: { keys, presigned: { singleUse: true }, nonceStore: createMemoryNonceStore() } },
    })
    try {
      const shared = createMemoryNonceStore()
      const one = await startApp(name, {
        options: { keys, presigned: true, nonceStore: shared },
        inner: { prefix: '/files', options: { keys, presigned: { singleUse: true }, nonceStore: shared } },
      })
      try {
        // Elsewhere the link stays multi-use, as the app-wide option says.
        expect((await accepted([app.port], await link('/reports/7'), 3)).ok).toBe(3)
        const r = await accepted([app.port], await link('/files/7'), 5)
        expect(r.codes).toEqual(['ok', 'NONCE_REPLAYED', 'NONCE_REPLAYED', 'NONCE_REPLAYED', 'NONCE_REPLAYED'])
        // The same with one store for both: the outer verifier recorded nothing for a multi-use link.
        expect((await accepted([one.port], await link('/files/8'), 5)).ok).toBe(1)
      } finally {
        await one.close()
      }
    } finally {
      await app.close()
    }
  })

  it('an inner verifier with its own store (two instances, per-process outer stores) refuses the replay', async () => {
    const inner = createMemoryNonceStore()
    const spec = (own: NonceStore) => ({
      options: { keys, nonceStore: own } satisfies SigilOptions,
      inner: { prefix: '/admin', options: { keys, nonceStore: inner } satisfies SigilOptions },
    })
    const a = await startApp(name, spec(createMemoryNonceStore()))
    const b = await startApp(name, spec(createMemoryNonceStore()))
    try {
      const r = await accepted([a.port, b.port], await signedPost('/admin/users'), 4)
      expect(r.codes).toEqual(['ok', 'NONCE_REPLAYED', 'NONCE_REPLAYED', 'NONCE_REPLAYED'])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('one store shared by both, the inner window wider: the honest request passes once, the replay is refused', async () => {
    const store = createMemoryNonceStore()
    const app = await startApp(name, {
      options: { keys, nonceStore: store, windowMs: 60_000 },
      inner: { prefix: '/admin', options: { keys, nonceStore: store, windowMs: 600_000 } },
    })
    try {
      const r = await accepted([app.port], await signedPost('/admin/users'), 3)
      expect(r.codes).toEqual(['ok', 'NONCE_REPLAYED', 'NONCE_REPLAYED'])
    } finally {
      await app.close()
    }
  })

  describe('shared Redis for the inner verifier only', () => {
    let redis: Redis
    let redis2: Redis
    const prefix = uniquePrefix('stacked')
    beforeAll(async () => {
      redis = await connectShared()
      redis2 = await connectShared()
    })
    afterAll(async () => {
      await deletePrefix(redis, prefix)
      redis.disconnect()
      redis2.disconnect()
    })
    it('a POST accepted on instance 1 is refused on instance 2', async () => {
      // Two instances as two processes would be: each its own per-process outer store and its own
      // Redis client and store object, on the same Redis and prefix.
      const spec = (client: Redis) => ({
        options: { keys, nonceStore: createMemoryNonceStore() } satisfies SigilOptions,
        inner: { prefix: '/admin', options: { keys, nonceStore: createRedisNonceStore(client, { prefix }) } satisfies SigilOptions },
      })
      const a = await startApp(name, spec(redis))
      const b = await startApp(name, spec(redis2))
      try {
        const r = await accepted([a.port, b.port], await signedPost('/admin/users'), 4)
        expect(r.codes).toEqual(['ok', 'NONCE_REPLAYED', 'NONCE_REPLAYED', 'NONCE_REPLAYED'])
      } finally {
        await a.close()
        await b.close()
      }
    })
  })
})

describe('node adapter (no stacking: every verifier checks its own store)', () => {
  it('a presigned: { singleUse: true } listener accepts a link once', async () => {
    const app = await startApp('node', { options: { keys, presigned: { singleUse: true }, nonceStore: createMemoryNonceStore() } })
    try {
      expect((await accepted([app.port], await link('/files/9'), 3)).codes).toEqual(['ok', 'NONCE_REPLAYED', 'NONCE_REPLAYED'])
    } finally {
      await app.close()
    }
  })
})
