// Abort while digesting (issue 17 item 9) and clock-skew corrections that a forged 401 cannot
// abuse (issue 10 item 9), against a real node:http server.
import { createSignedFetch } from '@sigil/client'
import { createSigningInterceptor } from '@sigil/client/undici'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RealServer, startApi } from './real-server.js'

let api: RealServer
let skewed: RealServer
let serverSkewMs = 0
beforeAll(async () => {
  api = await startApi()
  // A server whose clock runs ahead of ours, with a 60 s window.
  skewed = await startApi({ windowMs: 60_000, now: () => Date.now() + serverSkewMs })
})
afterAll(async () => {
  await api.close()
  await skewed.close()
})

describe('abort is prompt while digesting', () => {
  it('between chunks of a body factory, and the factory is not called again after the abort', async () => {
    const ac = new AbortController()
    let calls = 0
    let pulled = 0
    const factory = () => {
      calls++
      return new ReadableStream<Uint8Array>({
        pull(c) {
          pulled++
          if (pulled === 3) ac.abort(new Error('stop'))
          c.enqueue(new Uint8Array(64 * 1024))
        },
      })
    }
    const f = createSignedFetch({ keyId: api.keyId, secret: api.secret })
    await expect(f(`${api.origin}/echo`, { method: 'PUT', body: factory as never, signal: ac.signal })).rejects.toThrow('stop')
    expect(calls).toBe(1)
    expect(pulled).toBeLessThanOrEqual(5)
    expect(api.hits).toHaveLength(0)
  })

  it('inside one huge chunk: an abort from a timer lands before the next chunk is even asked for', async () => {
    const ac = new AbortController()
    let secondChunkPulled = false
    async function* body() {
      // Abort from a macrotask (a timer, as a user's timeout would): it can only fire if the
      // digest yields to the event loop while hashing this 64 MiB chunk.
      setTimeout(() => ac.abort(new Error('stop')), 0)
      yield new Uint8Array(64 * 1024 * 1024)
      secondChunkPulled = true
      yield new Uint8Array(1)
    }
    const f = createSignedFetch({ keyId: api.keyId, secret: api.secret })
    await expect(f(`${api.origin}/echo`, { method: 'PUT', body: body as never, signal: ac.signal })).rejects.toThrow('stop')
    expect(secondChunkPulled).toBe(false)
  })

  it('a large in-memory Blob: read in slices, so a timer abort lands before it is read through; nothing is sent', async () => {
    const ac = new AbortController()
    let slices = 0
    // 64 MiB = 16 slices of 4 MiB. Node's blob.stream() would hand it over as one chunk, unabortable.
    class CountingBlob extends Blob {
      override slice(start?: number, end?: number, type?: string) {
        slices++
        return super.slice(start, end, type)
      }
    }
    const blob = new CountingBlob([new Uint8Array(64 * 1024 * 1024)])
    const before = api.hits.length
    setTimeout(() => ac.abort(new Error('stop')), 0)
    const f = createSignedFetch({ keyId: api.keyId, secret: api.secret })
    await expect(f(`${api.origin}/echo`, { method: 'PUT', body: blob, signal: ac.signal })).rejects.toThrow('stop')
    expect(slices).toBeLessThan(16)
    expect(api.hits.length).toBe(before)
  })

  it('undici interceptor: aborting while a stream body is buffered stops reading it and sends nothing', async () => {
    const ac = new AbortController()
    let pulled = 0
    async function* body() {
      for (;;) {
        pulled++
        if (pulled === 3) ac.abort(new Error('stop'))
        yield new Uint8Array(1024)
        await new Promise((r) => setImmediate(r))
      }
    }
    const dispatcher = new Agent().compose(createSigningInterceptor({ keyId: api.keyId, secret: api.secret, bufferStreams: true }))
    const before = api.hits.length
    await expect(request(`${api.origin}/echo`, { method: 'PUT', body: body() as never, signal: ac.signal, dispatcher })).rejects.toThrow()
    expect(pulled).toBeLessThanOrEqual(4)
    expect(api.hits.length).toBe(before)
    await dispatcher.close()
  })

  it('an already-aborted signal sends nothing', async () => {
    const f = createSignedFetch({ keyId: api.keyId, secret: api.secret })
    const before = api.hits.length
    await expect(f(`${api.origin}/echo`, { method: 'POST', body: 'x', signal: AbortSignal.abort() })).rejects.toThrow()
    expect(api.hits.length).toBe(before)
  })
})

/** A man in the middle who answers the first request with a forged 401 CLOCK_SKEW. */
function forging(dateOffsetMs: number) {
  const sent: number[] = []
  let forged = false
  const fetchImpl = async (url: string, init: RequestInit) => {
    const r = new Request(url, init)
    sent.push(Number(/;created=(\d+)/.exec(r.headers.get('signature-input') ?? '')?.[1]))
    if (!forged) {
      forged = true
      return new Response(JSON.stringify({ code: 'CLOCK_SKEW' }), {
        status: 401,
        headers: { 'content-type': 'application/problem+json', date: new Date(Date.now() + dateOffsetMs).toUTCString() },
      })
    }
    return fetch(r)
  }
  return { sent, fetchImpl }
}

describe('a forged 401 CLOCK_SKEW cannot make the client pre-sign the future', () => {
  it('a far-future Date is never applied: no re-signed request, no offset kept', async () => {
    const m = forging(86_400_000)
    const f = createSignedFetch({ keyId: api.keyId, secret: api.secret, fetch: m.fetchImpl })
    const res = await f(`${api.origin}/echo`)
    expect(res.status).toBe(401)
    expect(m.sent).toHaveLength(1)
    expect((await f(`${api.origin}/echo`)).status).toBe(200)
    const now = Math.floor(Date.now() / 1000)
    for (const created of m.sent) expect(Math.abs(created - now)).toBeLessThan(60)
  })

  it('a correction within the bound is tried once, and dropped when the retried request is rejected', async () => {
    // Bound raised to 10 min, forged Date 4 min ahead: the real server (60 s window) rejects the retry.
    const m = forging(240_000)
    const f = createSignedFetch({ keyId: skewed.keyId, secret: skewed.secret, maxClockCorrectionMs: 600_000, fetch: m.fetchImpl })
    const res = await f(`${skewed.origin}/echo`)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'CLOCK_SKEW' })
    expect(m.sent).toHaveLength(2)
    const next = await f(`${skewed.origin}/echo`)
    expect(next.status).toBe(200)
    expect(Math.abs((m.sent[2] as number) - Math.floor(Date.now() / 1000))).toBeLessThan(30)
  })

  it('a genuine skew within the bound is corrected, and kept once the retry was accepted', async () => {
    serverSkewMs = 150_000
    try {
      const seen: number[] = []
      const f = createSignedFetch({
        keyId: skewed.keyId,
        secret: skewed.secret,
        maxClockCorrectionMs: 300_000,
        fetch: async (url, init) => {
          const res = await fetch(url, init)
          seen.push(res.status)
          return res
        },
      })
      expect((await f(`${skewed.origin}/echo`)).status).toBe(200)
      expect(seen).toEqual([401, 200])
      expect((await f(`${skewed.origin}/echo`)).status).toBe(200)
      expect(seen).toEqual([401, 200, 200])
      // The default bound (300 s) refuses a 6-minute correction.
      serverSkewMs = 360_000
      const g = createSignedFetch({ keyId: skewed.keyId, secret: skewed.secret })
      expect((await g(`${skewed.origin}/echo`)).status).toBe(401)
    } finally {
      serverSkewMs = 0
    }
  })
})
