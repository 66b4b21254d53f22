import { signRequest } from '@sigil/client'
import type { KeyRecord, KeyResolver, SigilError } from '@sigil/core'
import { requestFromFetch } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import type { IncomingRequest, Verified } from './incoming.js'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import type { VerifyOptions } from './options.js'
import { createVerifier, verifyNow } from './verifier.js'

// The synchronous path (issue 13): with stores that answer synchronously and a body already in
// memory, every step runs in one pass and verifyNow answers (or throws) without a promise; any
// store that answers with a promise puts the rest of the steps behind it, with the same outcome.
const secret = randomBytes(32)
const keyId = 'kSyncPath001'
const T0 = 1_735_689_600_000
const record: KeyRecord = { keyId, secret, principal: 'partner-a', scopes: ['orders:write'], status: 'active', createdAt: new Date(0) }
const syncKeys: KeyResolver = { get: (id) => (id === keyId ? record : undefined) }
const asyncKeys: KeyResolver = { get: async (id) => (id === keyId ? record : undefined) }
const BODY = '{"sku":"A-1","qty":2,"note":"split across chunks"}'

async function incoming(body = BODY, chunks = [body], contentLength: number | undefined = body.length): Promise<IncomingRequest> {
  const signed = await signRequest(
    new Request('https://api.example.com/v1/orders?b=2&a=1', { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    { keyId, secret, now: () => T0 },
  )
  const bytes = chunks.map((c) => new TextEncoder().encode(c))
  const input: IncomingRequest = { message: requestFromFetch(signed), hasBody: body.length > 0, body: () => bytes }
  if (contentLength !== undefined) input.contentLength = contentLength
  return input
}

const options = (over: Partial<VerifyOptions> = {}): VerifyOptions => ({
  keys: syncKeys,
  now: () => T0,
  nonceStore: createMemoryNonceStore({ now: () => T0 }),
  ...over,
})

const isThenable = (v: unknown): boolean => typeof (v as { then?: unknown } | null)?.then === 'function'
const text = (v: Verified) => new TextDecoder().decode(v.body)

describe('verifyNow: the synchronous path', () => {
  it('answers synchronously with synchronous stores and an in-memory body', async () => {
    const verifier = createVerifier(options())
    const v = verifyNow(verifier, await incoming())
    expect(isThenable(v)).toBe(false)
    expect(v).toMatchObject({ keyId, principal: 'partner-a', created: T0 / 1000, label: 'sig1' })
    expect(text(v as Verified)).toBe(BODY)
  })

  it('throws synchronously with the same code verifyIncoming rejects with', async () => {
    const verifier = createVerifier(options())
    const input = await incoming()
    verifyNow(verifier, input)
    // The same request again: its nonce is recorded.
    expect(() => verifyNow(verifier, input)).toThrow(expect.objectContaining({ code: 'NONCE_REPLAYED' }))
    const err = (await verifier.verifyIncoming(input).catch((e: unknown) => e)) as SigilError
    expect(err.code).toBe('NONCE_REPLAYED')
    const tampered = await incoming(BODY, ['{"sku":"A-2","qty":2,"note":"split across chunks"}'])
    expect(() => verifyNow(verifier, tampered)).toThrow(expect.objectContaining({ code: 'DIGEST_MISMATCH' }))
  })

  it('answers with a promise when a store does, with the same result', async () => {
    for (const over of [
      { keys: asyncKeys },
      { nonceStore: { checkAndSet: async () => true } },
      { keys: asyncKeys, nonceStore: { checkAndSet: async () => true } },
    ] satisfies Partial<VerifyOptions>[]) {
      const v = verifyNow(createVerifier(options(over)), await incoming())
      expect(isThenable(v)).toBe(true)
      const verified = await v
      expect(verified).toMatchObject({ keyId, principal: 'partner-a', label: 'sig1' })
      expect(text(verified)).toBe(BODY)
    }
    const replayed = createVerifier(options({ keys: asyncKeys, nonceStore: { checkAndSet: async () => false } }))
    const err = (await (verifyNow(replayed, await incoming()) as Promise<Verified>).catch((e: unknown) => e)) as SigilError
    expect(err.code).toBe('NONCE_REPLAYED')
  })

  it('keeps a body of many chunks whole, sized from Content-Length or not', async () => {
    const chunks = ['{"sku":"A-1",', '"qty":2,', '"note":"split ', 'across chunks"}']
    for (const contentLength of [BODY.length, undefined]) {
      const v = verifyNow(createVerifier(options()), await incoming(BODY, chunks, contentLength)) as Verified
      expect(text(v)).toBe(BODY)
      expect(v.body?.byteLength).toBe(BODY.length)
    }
    const constant = verifyNow(createVerifier(options({ retainBody: false })), await incoming(BODY, chunks)) as Verified
    expect(constant.body).toBeUndefined()
  })

  it('refuses a body past maxBodyBytes that its framing did not declare', async () => {
    const verifier = createVerifier(options({ maxBodyBytes: 20 }))
    const input = await incoming(BODY, ['{"sku":"A-1",', '"qty":2,', '"note":"split across chunks"}'], undefined)
    expect(() => verifyNow(verifier, input)).toThrow(expect.objectContaining({ code: 'BODY_TOO_LARGE' }))
  })
})
