// A presigned upload admits what its link allows, up to the route's ceiling (issue 28 item 3): the
// README's upload link allows 10 MB, but a route left at maxBodyBytes' 1 MiB answered a 5 MB
// upload with a bare `413 body exceeds 1048576 bytes`. Real server on 127.0.0.1, real 5 MB PUTs.
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { presignUrl } from '@sigil/client'
import type { Verified, VerifyOptions } from '@sigil/server'
import { withSigil } from '@sigil/server/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const keyId = 'kUploadCeiling1'
const secret = randomBytes(32)
const FIVE_MB = new Uint8Array(randomBytes(5_000_000))

async function serve(options: VerifyOptions): Promise<{ server: Server; origin: string }> {
  const server = createServer(
    withSigil(options, (_req, res, verified) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ bytes: (verified as Verified).body?.byteLength ?? null }))
    }),
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function upload(origin: string, maxBytes: number, body: Uint8Array<ArrayBuffer>) {
  const link = await presignUrl(`${origin}/uploads/a.bin`, { keyId, secret, method: 'PUT', maxBytes })
  const res = await fetch(link, { method: 'PUT', body })
  return { status: res.status, json: (await res.json()) as { bytes?: number; code?: string; detail?: string } }
}

describe('presigned upload size: the link within the route ceiling', () => {
  const keys = { [keyId]: secret }
  let ceiling: { server: Server; origin: string }
  let plain: { server: Server; origin: string }
  beforeAll(async () => {
    ceiling = await serve({ keys, presigned: { maxBodyBytes: 100_000_000 } })
    plain = await serve({ keys, presigned: true })
  })
  afterAll(() => {
    ceiling.server.close()
    plain.server.close()
  })

  it('admits a 5 MB upload on a 10 MB link where the route sets presigned.maxBodyBytes', async () => {
    const r = await upload(ceiling.origin, 10_000_000, FIVE_MB)
    expect(r).toEqual({ status: 200, json: { bytes: 5_000_000 } })
  })

  it("still holds an upload to its link's own bound under the ceiling", async () => {
    const r = await upload(ceiling.origin, 4_000_000, FIVE_MB)
    expect(r.status).toBe(413)
    expect(r.json.code).toBe('BODY_TOO_LARGE')
    expect(r.json.detail).toContain("4000000 bytes, the link's bound")
  })

  it('leaves header-signed requests at maxBodyBytes: the ceiling is for presigned requests only', async () => {
    const { createSignedFetch } = await import('@sigil/client')
    const api = createSignedFetch({ keyId, secret })
    const res = await api(`${ceiling.origin}/uploads/a.bin`, { method: 'PUT', body: FIVE_MB })
    expect(res.status).toBe(413)
  })

  it('without a ceiling, the 413 names the option to raise', async () => {
    const r = await upload(plain.origin, 10_000_000, FIVE_MB)
    expect(r.status).toBe(413)
    expect(r.json.code).toBe('BODY_TOO_LARGE')
    expect(r.json.detail).toContain('presigned.maxBodyBytes')
    expect(r.json.detail).toContain('the link allows 10000000')
  })
})
