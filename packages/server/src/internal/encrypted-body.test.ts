import { signRequest } from '@sigil/client'
import { bodyEncryption } from '@sigil/client/encrypted'
import { contentDigest } from '@sigil/core'
import { decryptBytes, deriveEncryptionKey, encryptBytes, randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import type { VerifyOptions } from './options.js'
import { signResponse } from './sign-response.js'
import { verify } from './verify.js'

const k1 = { keyId: 'kEnc1', secret: randomBytes(32) }
const k2 = { keyId: 'kEnc2', secret: randomBytes(32) }
const URL_ = 'https://api.example.com/v1/orders'

function options(extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { keys: { [k1.keyId]: k1.secret, [k2.keyId]: k2.secret }, nonceStore: createMemoryNonceStore(), ...extra }
}

async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'accepted',
    (e: { code?: string }) => e.code ?? String(e),
  )
}

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request(URL_, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })

/** A request signed by `key` whose body is `bytes` as given, declared aes128gcm (a sender that holds a key). */
async function signedCoded(key: typeof k1, bytes: Uint8Array, components = ['content-encoding']) {
  return signRequest(post(bytes as Uint8Array<ArrayBuffer>, { 'content-encoding': 'aes128gcm' }), { ...key, components })
}

describe('encryptedBodies (SPEC §8)', () => {
  it("'allowed': the app gets the plaintext, from a clone or from the consumed body", async () => {
    const o = options({ encryptedBodies: 'allowed' })
    for (const consumeBody of [false, true]) {
      const req = await signRequest(post('{"sku":"A-1"}'), { ...k1, encryptBody: bodyEncryption() })
      const v = await verify(req, o, { consumeBody })
      expect(new TextDecoder().decode(v.body)).toBe('{"sku":"A-1"}')
    }
    // A plaintext body still passes where encryption is only allowed.
    const plain = await verify(await signRequest(post('{"a":1}'), k1), o)
    expect(new TextDecoder().decode(plain.body)).toBe('{"a":1}')
  })

  it("'required': a plaintext body is 415 ENCRYPTION_REQUIRED with Accept-Encoding: aes128gcm; no body is fine", async () => {
    const o = options({ encryptedBodies: 'required' })
    const e = await verify(await signRequest(post('{"a":1}'), k1), o).catch((x) => x)
    expect(e).toMatchObject({ code: 'ENCRYPTION_REQUIRED', status: 415, headers: { 'accept-encoding': 'aes128gcm' } })
    // Not announced by the framing (a stream): refused once bytes arrive.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"a":1}'))
        c.close()
      },
    })
    const streamed = await signRequest(new Request(URL_, { method: 'POST', body: stream, duplex: 'half' } as RequestInit), k1)
    expect(await outcome(verify(streamed, o))).toBe('ENCRYPTION_REQUIRED')
    expect(await outcome(verify(await signRequest(new Request(URL_), k1), o))).toBe('accepted')
    expect(await outcome(verify(await signRequest(post('{"a":1}'), { ...k1, encryptBody: bodyEncryption() }), o))).toBe('accepted')
    // A route can require it where the verifier only allows it.
    const allowed = options({ encryptedBodies: 'allowed' })
    expect(await outcome(verify(await signRequest(post('{"a":1}'), k1), allowed, { encryptedBodies: 'required' }))).toBe(
      'ENCRYPTION_REQUIRED',
    )
  })

  it('off (default): an aes128gcm body reaches the app as it came, as before', async () => {
    const req = await signRequest(post('{"a":1}'), { ...k1, encryptBody: bodyEncryption() })
    const v = await verify(req, options())
    expect(v.body?.[0]).not.toBe('{'.charCodeAt(0))
    expect(Buffer.from(v.body as Uint8Array).toString()).not.toContain('"a"')
  })

  it('a tampered record is refused before any plaintext reaches the app: DIGEST_MISMATCH on the wire, BODY_DECRYPTION_FAILED from a key holder', async () => {
    const o = options({ encryptedBodies: 'allowed' })
    for (const at of [30, 16_500, 40_000]) {
      // Each on its own signature: the nonce is spent before the body is read.
      const good = await signRequest(post('x'.repeat(40_000)), { ...k1, encryptBody: bodyEncryption() })
      const bad = new Uint8Array(await good.clone().arrayBuffer())
      bad[at] = (bad[at] as number) ^ 1
      const moved = new Request(good, { body: bad })
      expect(await outcome(verify(moved, o))).toBe('DIGEST_MISMATCH')
    }
    // A sender with the key who signs bytes that do not decrypt: every record is checked.
    const key = await deriveEncryptionKey(k1.secret, k1.keyId)
    const sealed = await encryptBytes(new Uint8Array(40_000), { key, keyId: k1.keyId })
    const flipped = sealed.slice()
    flipped[sealed.length - 5] = (flipped[sealed.length - 5] as number) ^ 1
    expect(await outcome(verify(await signedCoded(k1, flipped), o))).toBe('BODY_DECRYPTION_FAILED')
    const truncated = sealed.subarray(0, 21 + k1.keyId.length + 16384)
    expect(await outcome(verify(await signedCoded(k1, truncated), o))).toBe('BODY_DECRYPTION_FAILED')
    const wrongKey = await encryptBytes(new Uint8Array(10), { key: new Uint8Array(16), keyId: k1.keyId })
    expect(await outcome(verify(await signedCoded(k1, wrongKey), o))).toBe('BODY_DECRYPTION_FAILED')
  })

  it('a ciphertext moved under another signature: verbatim it is a replay; under another key it does not decrypt', async () => {
    const o = options({ encryptedBodies: 'allowed' })
    const original = await signRequest(post('{"pay":100}'), { ...k1, encryptBody: bodyEncryption() })
    const sealed = new Uint8Array(await original.clone().arrayBuffer())
    expect(await outcome(verify(original.clone(), o))).toBe('accepted')
    expect(await outcome(verify(original.clone(), o))).toBe('NONCE_REPLAYED')
    // Another partner (k2) re-signs k1's ciphertext as its own: the header names k1, not k2.
    expect(await outcome(verify(await signedCoded(k2, sealed), o))).toBe('BODY_DECRYPTION_FAILED')
    // … and with the header's keyid rewritten to k2, k2's key does not open k1's records.
    const renamed = new Uint8Array([
      ...sealed.subarray(0, 20),
      k2.keyId.length,
      ...new TextEncoder().encode(k2.keyId),
      ...sealed.subarray(21 + k1.keyId.length),
    ])
    expect(await outcome(verify(await signedCoded(k2, renamed), o))).toBe('BODY_DECRYPTION_FAILED')
  })

  it('refuses an aes128gcm body whose signature does not cover content-encoding, and stacked codings', async () => {
    const o = options({ encryptedBodies: 'allowed' })
    const key = await deriveEncryptionKey(k1.secret, k1.keyId)
    const sealed = await encryptBytes(new Uint8Array(10), { key, keyId: k1.keyId })
    expect(await outcome(verify(await signedCoded(k1, sealed, []), o))).toBe('PROFILE_VIOLATION')
    const stacked = await signRequest(post(sealed as Uint8Array<ArrayBuffer>, { 'content-encoding': 'aes128gcm, gzip' }), {
      ...k1,
      components: ['content-encoding'],
    })
    expect(await outcome(verify(stacked, o))).toBe('CONTENT_ENCODING_UNSUPPORTED')
  })

  it('maxBodyBytes holds the ciphertext (the plaintext is always smaller)', async () => {
    const o = options({ encryptedBodies: 'allowed', maxBodyBytes: 1000 })
    expect(await outcome(verify(await signRequest(post('x'.repeat(990)), { ...k1, encryptBody: bodyEncryption() }), o))).toBe(
      'BODY_TOO_LARGE',
    )
    expect(await outcome(verify(await signRequest(post('x'.repeat(900)), { ...k1, encryptBody: bodyEncryption() }), o))).toBe('accepted')
  })

  it('refuses an unknown value', async () => {
    const bad = options({ encryptedBodies: 'yes' as 'allowed' })
    expect(await outcome(Promise.resolve().then(() => verify(new Request(URL_), bad)))).toBe('CONFIGURATION_INVALID')
  })
})

describe('msw withSigil (SPEC §8)', () => {
  it('hands the resolver a request whose body is the plaintext', async () => {
    const { withSigil } = await import('../adapters/msw/index.js')
    const resolver = withSigil(options({ encryptedBodies: 'required' }), async ({ request, sigil }) =>
      Response.json({ text: await request.text(), coding: request.headers.get('content-encoding'), encrypted: sigil.encrypted === true }),
    )
    const request = await signRequest(post('{"sku":"A-1"}'), { ...k1, encryptBody: bodyEncryption() })
    const res = (await resolver({ request, params: {}, cookies: {}, requestId: 'r1' } as never)) as Response
    expect(await res.json()).toEqual({ text: '{"sku":"A-1"}', coding: null, encrypted: true })
  })
})

describe('encryptResponses (SPEC §8)', () => {
  it('encrypts the answer for the request key when asked, digests the encrypted bytes', async () => {
    const o = options({ encryptedBodies: 'allowed' })
    const req = await signRequest(post('{"a":1}'), { ...k1, encryptBody: bodyEncryption() })
    const verified = await verify(req, o)
    const res = await signResponse(Response.json({ ok: true }), verified, req, { verifier: o, encryptResponses: true })
    expect(res.headers.get('content-encoding')).toBe('aes128gcm')
    expect(res.headers.get('vary')).toContain('sigil-accept-encoding')
    const sealed = new Uint8Array(await res.arrayBuffer())
    expect(res.headers.get('content-digest')).toBe(contentDigest(sealed))
    const key = await deriveEncryptionKey(k1.secret, k1.keyId)
    expect(new TextDecoder().decode(await decryptBytes(sealed, { key: (id) => (id === k1.keyId ? key : undefined) }))).toBe('{"ok":true}')
  })

  it('answers in plaintext a request that did not ask', async () => {
    const o = options()
    const req = await signRequest(post('{"a":1}'), k1)
    const res = await signResponse(new Response('plain'), await verify(req, o), req, { verifier: o, encryptResponses: true })
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(await res.text()).toBe('plain')
  })
})
