import { contentDigest, parseSignatures } from '@sigil/core'
import { decryptBytes, deriveEncryptionKey, encryptBytes, randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { bodyEncryption } from './encrypted.js'
import { signRequest } from './sign-request.js'
import { createSignedFetch, type SignedFetchInit } from './signed-fetch.js'

const credentials = { keyId: 'kClientEnc01', secret: randomBytes(32), encryptBody: bodyEncryption() }
const keyP = deriveEncryptionKey(credentials.secret, credentials.keyId)

const covered = (r: { headers: Headers }) =>
  parseSignatures(r.headers.get('signature-input'), r.headers.get('signature'))[0]?.components.map((c) => c.id)

async function bytesOf(body: BodyInit | null): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer())
}

describe('encryptBody on signRequest', () => {
  it('sends the body aes128gcm-encrypted, digests and signs the encrypted bytes', async () => {
    const signed = await signRequest(
      new Request('https://api.example.com/v1/orders', { method: 'POST', body: '{"sku":"A-1"}' }),
      credentials,
    )
    const sent = new Uint8Array(await signed.arrayBuffer())
    expect(Buffer.from(sent).toString()).not.toContain('A-1')
    expect(signed.headers.get('content-encoding')).toBe('aes128gcm')
    expect(signed.headers.get('sigil-accept-encoding')).toBe('aes128gcm')
    expect(signed.headers.get('content-digest')).toBe(contentDigest(sent))
    expect(covered(signed)).toEqual(expect.arrayContaining(['"content-digest"', '"content-encoding"', '"sigil-accept-encoding"']))
    const key = await keyP
    expect(Buffer.from(await decryptBytes(sent, { key: (id) => (id === credentials.keyId ? key : undefined) })).toString()).toBe(
      '{"sku":"A-1"}',
    )
  })

  it('asks for an encrypted answer on a bodyless request too', async () => {
    const signed = await signRequest(new Request('https://api.example.com/v1/orders'), credentials)
    expect(signed.headers.get('sigil-accept-encoding')).toBe('aes128gcm')
    expect(signed.headers.get('content-encoding')).toBeNull()
    expect(covered(signed)).toContain('"sigil-accept-encoding"')
  })

  it('refuses a body that already has a content coding, and anything but bodyEncryption() (true says where to get it)', async () => {
    const gz = new Request('https://api.example.com/v1', { method: 'POST', body: 'x', headers: { 'content-encoding': 'gzip' } })
    await expect(signRequest(gz, credentials)).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
    await expect(
      signRequest(new Request('https://api.example.com/v1'), { ...credentials, encryptBody: 'yes' as never }),
    ).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
    await expect(signRequest(new Request('https://api.example.com/v1'), { ...credentials, encryptBody: true as never })).rejects.toThrow(
      "import { bodyEncryption } from '@sigil/client/encrypted'",
    )
  })
})

describe('encryptBody where bodies are not encrypted yet', () => {
  it('the undici interceptor refuses it rather than send the body in the clear', async () => {
    const { createSigningInterceptor } = await import('./undici.js')
    expect(() => createSigningInterceptor({ ...credentials, origin: 'https://api.example.com' })).toThrow(/does not encrypt bodies yet/)
    expect(() => createSigningInterceptor({ ...credentials, encryptBody: false, origin: 'https://api.example.com' })).not.toThrow()
  })
})

describe('encryptBody on createSignedFetch', () => {
  function capture(respond?: () => Promise<Response> | Response) {
    const calls: { url: string; init: SignedFetchInit; body: Uint8Array }[] = []
    const fetch = async (url: string, init: SignedFetchInit) => {
      calls.push({ url, init, body: await bytesOf(init.body) })
      return respond ? respond() : new Response('ok')
    }
    return { calls, fetch }
  }

  it('encrypts bytes, Blobs and body factories so that the digest covers what is sent', async () => {
    const key = await keyP
    const big = new Uint8Array(100_000).map((_, i) => i % 251)
    for (const body of [
      'hello',
      new Blob([big]),
      () =>
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(big.subarray(0, 40_000))
            c.enqueue(big.subarray(40_000))
            c.close()
          },
        }),
    ]) {
      const { calls, fetch } = capture()
      await createSignedFetch({ ...credentials, fetch })('https://api.example.com/v1/up', { method: 'PUT', body: body as BodyInit })
      const [call] = calls
      if (!call) throw new Error('no call')
      expect(call.init.headers.get('content-encoding')).toBe('aes128gcm')
      expect(call.init.headers.get('content-digest')).toBe(contentDigest(call.body))
      const plain = await decryptBytes(call.body, { key })
      expect(Buffer.from(plain).equals(typeof body === 'string' ? Buffer.from(body) : big)).toBe(true)
    }
  })

  it('stops a factory that yields other bytes on the send pass before sealing them', async () => {
    let calls = 0
    const factory = () => {
      calls++
      const fill = calls === 1 ? 1 : 2
      return new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array(50_000).fill(fill))
          c.close()
        },
      })
    }
    const { fetch } = capture()
    await expect(
      createSignedFetch({ ...credentials, fetch })('https://api.example.com/v1/up', { method: 'PUT', body: factory as never }),
    ).rejects.toThrow(/other bytes/)
  })

  it('decrypts an encrypted answer as it is read, and errors on a tampered one', async () => {
    const key = await keyP
    const sealed = await encryptBytes(new TextEncoder().encode('secret answer'), { key, keyId: credentials.keyId })
    const answer = (bytes: Uint8Array) => () =>
      new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-encoding': 'aes128gcm' } })
    const ok = capture(answer(sealed))
    const res = await createSignedFetch({ ...credentials, fetch: ok.fetch })('https://api.example.com/v1/q')
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(await res.text()).toBe('secret answer')
    expect(ok.calls[0]?.init.headers.get('sigil-accept-encoding')).toBe('aes128gcm')

    const bad = sealed.slice()
    bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 1
    const res2 = await createSignedFetch({ ...credentials, fetch: capture(answer(bad)).fetch })('https://api.example.com/v1/q')
    await expect(res2.text()).rejects.toMatchObject({ code: 'BODY_DECRYPTION_FAILED' })

    // Another key's answer does not decrypt either.
    const other = await encryptBytes(new TextEncoder().encode('x'), { key: new Uint8Array(16), keyId: credentials.keyId })
    const res3 = await createSignedFetch({ ...credentials, fetch: capture(answer(other)).fetch })('https://api.example.com/v1/q')
    await expect(res3.text()).rejects.toMatchObject({ code: 'BODY_DECRYPTION_FAILED' })
  })

  it('leaves a plaintext answer as it is', async () => {
    const res = await createSignedFetch({ ...credentials, fetch: capture(() => new Response('plain')).fetch })(
      'https://api.example.com/v1/q',
    )
    expect(await res.text()).toBe('plain')
  })
})
