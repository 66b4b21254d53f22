import { signRequest } from '@sigil/client'
import { ConfigurationError, type KeyRecord } from '@sigil/core'
import { randomBytes, toBase64, toBase64Url } from '@sigil/core/internal'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { outcomeOf as codeOf } from '../../../../test/helpers/outcome.js'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import type { VerifyOptions } from './options.js'
import { problemResponse, toProblem } from './problem.js'
import { createVerifier } from './verifier.js'
import { verify } from './verify.js'

// Issue 10 items 1, 2, 10, 12, 13 and issue 18 item 3: secure defaults of the verifier.

const secret = randomBytes(32)
const T0 = 1_735_689_600_000
const uniqueId = () => `kSec${toBase64Url(randomBytes(9)).replace(/[-_]/g, 'x')}`

const post = (url = 'https://api.example.com/v1/orders', body = '{"sku":"A-1"}') =>
  new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

const sign = (req: Request, keyId: string, o: { now?: number; expiresInMs?: number; key?: Uint8Array } = {}) =>
  signRequest(req, {
    keyId,
    secret: o.key ?? secret,
    now: () => o.now ?? Date.now(),
    ...(o.expiresInMs !== undefined ? { expiresInMs: o.expiresInMs } : {}),
  })

describe('item 1: one default nonce store per process', () => {
  it('refuses a replay when every call passes a fresh options object (the Next.js route handler shape)', async () => {
    const keyId = uniqueId()
    const signed = await sign(post(), keyId)
    expect(await codeOf(verify(signed.clone(), { keys: { [keyId]: secret } }))).toBe('accepted')
    expect(await codeOf(verify(signed.clone(), { keys: { [keyId]: secret } }))).toBe('NONCE_REPLAYED')
    // Another compiled verifier without a store shares the same one.
    const other = createVerifier({ keys: { [keyId]: secret }, windowMs: 60_000 })
    expect(await codeOf(verify(signed, other))).toBe('NONCE_REPLAYED')
  })

  it('keeps key ids apart: the same nonce under another key is not a replay', async () => {
    const a = uniqueId()
    const b = uniqueId()
    const sa = await sign(post(), a)
    const nonce = /nonce="([^"]+)"/.exec(sa.headers.get('signature-input') as string)?.[1] as string
    const sb = await signRequest(post(), { keyId: b, secret, params: { nonce } })
    expect(await codeOf(verify(sa, { keys: { [a]: secret } }))).toBe('accepted')
    expect(await codeOf(verify(sb, { keys: { [b]: secret } }))).toBe('accepted')
  })

  describe('warning', () => {
    afterEach(() => {
      vi.unstubAllEnvs()
      vi.restoreAllMocks()
      vi.resetModules()
    })

    const fresh = async () => {
      vi.resetModules()
      return (await import('./options.js')).compileOptions
    }

    it('emits one SIGIL_MEMORY_NONCE_STORE warning with NODE_ENV=production and the default store', async () => {
      vi.stubEnv('NODE_ENV', 'production')
      const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
      const compile = await fresh()
      compile({ keys: { [uniqueId()]: secret } })
      compile({ keys: { [uniqueId()]: secret } })
      expect(spy).toHaveBeenCalledTimes(1)
      const [message, opts] = spy.mock.calls[0] as [string, { code: string }]
      expect(opts.code).toBe('SIGIL_MEMORY_NONCE_STORE')
      expect(message).toMatch(/per process|this process only/)
      expect(message).toContain('@sigil/redis')
    })

    it('emits it in a node:cluster worker (NODE_UNIQUE_ID), not with a store given or in development', async () => {
      vi.stubEnv('NODE_ENV', 'development')
      const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
      let compile = await fresh()
      compile({ keys: { [uniqueId()]: secret } })
      vi.stubEnv('NODE_ENV', 'production')
      compile({ keys: { [uniqueId()]: secret }, nonceStore: createMemoryNonceStore() })
      expect(spy).not.toHaveBeenCalled()
      vi.stubEnv('NODE_ENV', 'test')
      vi.stubEnv('NODE_UNIQUE_ID', '1')
      compile = await fresh()
      compile({ keys: { [uniqueId()]: secret } })
      expect(spy).toHaveBeenCalledTimes(1)
      expect((spy.mock.calls[0] as [string, { code: string }])[1].code).toBe('SIGIL_MEMORY_NONCE_STORE')
    })
  })

  it('draws no randomness, timers or I/O when a verifier or store is constructed', async () => {
    const keyId = uniqueId()
    const rnd = vi.spyOn(globalThis.crypto, 'getRandomValues')
    const timer = vi.spyOn(globalThis, 'setTimeout')
    try {
      const store = createMemoryNonceStore()
      const v = createVerifier({ keys: { [keyId]: secret }, opaque: true })
      expect(rnd).not.toHaveBeenCalled()
      expect(timer).not.toHaveBeenCalled()
      // First use draws them lazily.
      store.checkAndSet('k', 'n', 1000)
      expect(rnd).toHaveBeenCalled()
      expect(v.config.nonceStore).toBeDefined()
    } finally {
      rnd.mockRestore()
      timer.mockRestore()
    }
  })
})

describe('item 2: secrets under 32 bytes are a configuration error', () => {
  const variants: Array<[string, unknown]> = [
    ['empty', ''],
    ['undefined', undefined],
    ['null', null],
    ['4 chars', 'abcd'],
    ['31 bytes of base64', toBase64(randomBytes(31))],
    ['31 bytes', randomBytes(31)],
    ['empty bytes', new Uint8Array(0)],
    ['hex of 32 bytes', Buffer.from(randomBytes(32)).toString('hex')],
    ['lower-case passphrase', 'correcthorsebatterystaplecorrecthorsebatter'],
    ['utf8 form, short', { utf8: 'short' }],
    ['two forms', { hex: 'aa'.repeat(32), utf8: 'x'.repeat(32) }],
    ['a number', 12345],
  ]
  for (const [name, value] of variants) {
    it(`refuses ${name} at compile time, naming the key id and never the value`, () => {
      let err: unknown
      try {
        createVerifier({ keys: { kPartnerAcme01: value as string } })
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ConfigurationError)
      const message = (err as Error).message
      expect(message).toContain('kPartnerAcme01')
      if (typeof value === 'string' && value.length > 0) expect(message).not.toContain(value)
      expect(message).toMatch(/base64url/)
    })
  }

  it('says "missing" for undefined (an unset environment variable)', () => {
    expect(() => createVerifier({ keys: { kPartnerAcme01: process.env.SIGIL_SURELY_UNSET_VAR as string } })).toThrow(
      /secret of kPartnerAcme01 is missing/,
    )
  })

  it('accepts every explicit form of the same 32 bytes', async () => {
    const forms = [
      secret,
      toBase64(secret),
      toBase64Url(secret),
      { base64: toBase64(secret) },
      { base64url: toBase64Url(secret) },
      { hex: Buffer.from(secret).toString('hex') },
    ]
    for (const form of forms) {
      const keyId = uniqueId()
      expect(await codeOf(verify(await sign(post(), keyId), { keys: { [keyId]: form as string } }))).toBe('accepted')
    }
    const utf = 'a UTF-8 passphrase, 32 bytes long'
    const keyId = uniqueId()
    const s = await sign(post(), keyId, { key: new TextEncoder().encode(utf) })
    expect(await codeOf(verify(s, { keys: { [keyId]: { utf8: utf } as unknown as string } }))).toBe('accepted')
  })

  it('a key store returning a short or empty secret fails closed (503), never accepts', async () => {
    for (const bad of [new Uint8Array(0), new Uint8Array(31), undefined as unknown as Uint8Array]) {
      const keyId = uniqueId()
      const record: KeyRecord = { keyId, secret: bad, principal: 'p', scopes: [], status: 'active', createdAt: new Date(0) }
      const err = await verify(await sign(post(), keyId), { keys: { get: () => record }, onError: () => {} }).catch((e) => e)
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
    }
  })
})

describe('item 10: the nonce outlives every instant the signature can verify', () => {
  const windowMs = 300_000
  for (const offsetMs of [0, 1, 499, 999]) {
    it(`a replay 2 × window after an accept at the window's edge is refused (now + ${offsetMs} ms)`, async () => {
      let now = T0 + offsetMs
      const store = createMemoryNonceStore({ now: () => now })
      const keyId = uniqueId()
      const options: VerifyOptions = { keys: { [keyId]: secret }, nonceStore: store, now: () => now, windowMs }
      // created = now + window: the earliest instant it verifies at.
      const createdMs = Math.floor(now / 1000) * 1000 + windowMs
      // No expires: the window alone bounds it (expires would end it earlier).
      const signed = await sign(post(), keyId, { now: createdMs, expiresInMs: 0 })
      expect(await codeOf(verify(signed.clone(), options))).toBe('accepted')
      // Every later instant at which the time check still passes must see the nonce.
      for (const t of [createdMs, createdMs + windowMs - 1, createdMs + windowMs]) {
        now = t
        expect(await codeOf(verify(signed.clone(), options))).toBe('NONCE_REPLAYED')
      }
      now = createdMs + windowMs + 1
      expect(await codeOf(verify(signed.clone(), options))).toBe('CLOCK_SKEW')
    })
  }

  it('with expires before the window end, the nonce lives until expires', async () => {
    let now = T0
    const store = createMemoryNonceStore({ now: () => now })
    const keyId = uniqueId()
    const options: VerifyOptions = { keys: { [keyId]: secret }, nonceStore: store, now: () => now, windowMs: 300_000 }
    const signed = await sign(post(), keyId, { now: T0, expiresInMs: 120_000 })
    expect(await codeOf(verify(signed.clone(), options))).toBe('accepted')
    now = T0 + 119_999
    expect(await codeOf(verify(signed.clone(), options))).toBe('NONCE_REPLAYED')
    now = T0 + 120_000
    expect(await codeOf(verify(signed.clone(), options))).toBe('SIGNATURE_EXPIRED')
  })
})

describe('item 12: profile rfc9421 keeps a floor', () => {
  it('refuses an empty () signature and one without @path or @method', async () => {
    const keyId = uniqueId()
    const opts = { keys: { [keyId]: secret }, profile: 'rfc9421' as const }
    const base = await sign(post(), keyId)
    const si = base.headers.get('signature-input') as string
    for (const cover of ['()', '("@authority" "@path" "content-digest")', '("@method" "@authority" "content-digest")']) {
      const h = new Headers(base.headers)
      h.set('signature-input', si.replace(/\([^)]*\)/, cover))
      const r = new Request(base.url, { method: 'POST', headers: h, body: '{"sku":"A-1"}' })
      expect(await codeOf(verify(r, opts))).toBe('PROFILE_VIOLATION')
    }
  })

  it('requires content-digest when there is a body, unless requiredComponents lowers the floor', async () => {
    const keyId = uniqueId()
    // Sign a body-less request, then send it with a body: the digest is not covered.
    const signed = await sign(new Request('https://api.example.com/v1/orders', { method: 'POST' }), keyId)
    const withBody = () => new Request(signed.url, { method: 'POST', headers: signed.headers, body: '{"evil":1}' })
    expect(await codeOf(verify(withBody(), { keys: { [keyId]: secret }, profile: 'rfc9421', nonceStore: createMemoryNonceStore() }))).toBe(
      'DIGEST_MISSING',
    )
    expect(
      await codeOf(
        verify(withBody(), {
          keys: { [keyId]: secret },
          profile: 'rfc9421',
          requiredComponents: ['@method', '@authority', '@path'],
          nonceStore: createMemoryNonceStore(),
        }),
      ),
    ).toBe('accepted')
  })
})

describe('item 13: a plain keys record is read live', () => {
  it('deleting an entry revokes it on the next request; adding one enables it; replacing re-checks it', async () => {
    const a = uniqueId()
    const b = uniqueId()
    const keys: Record<string, string | Uint8Array> = { [a]: secret }
    const options: VerifyOptions = { keys, onError: () => {} }
    expect(await codeOf(verify(await sign(post(), a), options))).toBe('accepted')
    delete keys[a]
    expect(await codeOf(verify(await sign(post(), a), options))).toBe('KEY_UNKNOWN')
    keys[b] = toBase64Url(secret)
    expect(await codeOf(verify(await sign(post(), b), options))).toBe('accepted')
    keys[b] = randomBytes(32)
    expect(await codeOf(verify(await sign(post(), b), options))).toBe('SIGNATURE_INVALID')
    keys[b] = 'abcd'
    const err = await verify(await sign(post(), b), options).catch((e) => e)
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })

  it('only own properties are keys: Object.prototype names are unknown', async () => {
    const options: VerifyOptions = { keys: { [uniqueId()]: secret } }
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(await codeOf(verify(await sign(post(), name), options))).toBe('KEY_UNKNOWN')
    }
  })
})

describe('issue 18 item 3: internal failures answer generically, with a correlation id', () => {
  const leaky = 'stored secret of key kLeaky001 failed to decrypt under master-key version v1: wrong master key or tampered row'

  it('a key store error is a generic 503; the detail goes to onError under the same correlation id', async () => {
    const keyId = uniqueId()
    const reported: Array<{ error: unknown; id: string }> = []
    const options: VerifyOptions = {
      keys: {
        get: () => {
          throw new ConfigurationError(leaky)
        },
      },
      onError: (error, { correlationId }) => void reported.push({ error, id: correlationId }),
    }
    const err = await verify(await sign(post(), keyId), options).catch((e) => e)
    const res = problemResponse(err)
    expect(res.status).toBe(503)
    const text = await res.text()
    expect(text).not.toContain('decrypt')
    expect(text).not.toContain('kLeaky001')
    const body = JSON.parse(text)
    expect(body.code).toBe('STORE_UNAVAILABLE')
    expect(reported).toHaveLength(1)
    expect(body.correlationId).toBe(reported[0]?.id)
    expect(body.instance).toBe(`urn:uuid:${reported[0]?.id}`)
    expect(String((reported[0]?.error as Error | undefined)?.cause)).toContain('decrypt')
  })

  it('a rejected promise from the store looks the same as a thrown error, and as any other outage', async () => {
    const keyId = uniqueId()
    const bodies: unknown[] = []
    for (const get of [() => Promise.reject(new Error(leaky)), () => Promise.reject(new Error('ECONNREFUSED 10.0.0.7:5432'))]) {
      const err = await verify(await sign(post(), keyId), { keys: { get }, onError: () => {} }).catch((e) => e)
      const { correlationId, instance, ...rest } = toProblem(err, new Date(0), { onError: () => {} }).body
      expect(correlationId).toMatch(/^[0-9a-f-]{36}$/)
      expect(instance).toBe(`urn:uuid:${correlationId}`)
      bodies.push(rest)
    }
    expect(bodies[0]).toEqual(bodies[1])
  })

  it('any non-Sigil error (or 5xx Sigil error) renders a generic 500 and is reported', async () => {
    for (const error of [new TypeError(leaky), new ConfigurationError(leaky), 'a string', { weird: leaky }]) {
      const seen: string[] = []
      const p = toProblem(error, new Date(0), { onError: (_e, { correlationId }) => void seen.push(correlationId) })
      expect(p.status).toBe(500)
      expect(JSON.stringify(p.body)).not.toContain('decrypt')
      expect(p.body.code).toBe('INTERNAL_ERROR')
      expect(seen).toEqual([p.body.correlationId])
    }
  })

  it('the default reporter logs the detail to the server log, not to the caller', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const res = problemResponse(new Error(leaky))
      const body = await res.json()
      expect(JSON.stringify(body)).not.toContain('decrypt')
      expect(log).toHaveBeenCalledTimes(1)
      expect(String(log.mock.calls[0]?.[0])).toContain(body.correlationId)
      expect(String(log.mock.calls[0]?.[0])).toContain('decrypt')
    } finally {
      log.mockRestore()
    }
  })
})

describe('issue 11: one key cannot fill the memory nonce store for everyone', () => {
  it('key A flooding (past its rate limit and its share) leaves key B 100% accepted', async () => {
    const { createMemoryRateLimiter } = await import('../rate-limit.js')
    const a = uniqueId()
    const b = uniqueId()
    const verifier = createVerifier({
      keys: { [a]: secret, [b]: secret },
      nonceStore: createMemoryNonceStore({ maxEntriesPerKey: 150 }),
      rateLimiter: createMemoryRateLimiter({ rate: { points: 40, windowMs: 60_000 } }),
      onError: () => {},
    })
    const outcomes: Record<string, number> = {}
    let bAccepted = 0
    for (let i = 0; i < 240; i++) {
      const code = await codeOf(verify(await sign(post(), a), verifier))
      outcomes[code] = (outcomes[code] ?? 0) + 1
      if (i % 8 === 0 && (await codeOf(verify(await sign(post(), b), verifier))) === 'accepted') bAccepted++
    }
    expect(outcomes.accepted).toBe(40)
    expect(outcomes.RATE_LIMITED).toBeGreaterThan(0)
    // A's share filled: A (only A) now fails closed.
    expect(outcomes.STORE_UNAVAILABLE).toBeGreaterThan(0)
    // B stays under its own rate limit (30 requests < 40) and is never touched by A's flood.
    expect(bAccepted).toBe(30)
  })
})
