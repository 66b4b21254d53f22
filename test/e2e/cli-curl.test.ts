// `sigil curl` against a real node:http server that verifies with verifyNodeRequest: the method is
// signed as sent, redirects are not followed by default, -L re-signs same-origin hops only, and
// --location-trusted is the opt-in for other origins (issue 17, issue 11 CLI hygiene).
import { tmpdir } from 'node:os'
import { run } from '@sigil/cli'
import { toBase64Url } from '@sigil/core/internal'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RealServer, startApi, startRecorder } from './real-server.js'

let api: RealServer
let other: Awaited<ReturnType<typeof startRecorder>>
beforeAll(async () => {
  other = await startRecorder()
  api = await startApi({}, () => other.origin)
})
afterAll(async () => {
  await api.close()
  await other.close()
})
beforeEach(() => {
  api.hits.length = 0
  other.hits.length = 0
})

async function curl(...args: string[]) {
  let stdout = ''
  let stderr = ''
  const dec = new TextDecoder()
  const io = {
    stdout: { write: (c: string | Uint8Array) => (stdout += typeof c === 'string' ? c : dec.decode(c)) },
    stderr: { write: (c: string) => (stderr += c) },
    env: {},
    cwd: tmpdir(),
  }
  const code = await run(['curl', '--key-id', api.keyId, `--secret=${toBase64Url(api.secret)}`, ...args], io)
  return { code, stdout, stderr }
}

describe('sigil curl', () => {
  it('signs the method as it goes on the wire (-X put, -X delete, -X Post)', async () => {
    for (const m of ['put', 'delete', 'Post']) {
      const r = await curl('--json', '-X', m, '-d', 'x=1', `${api.origin}/echo`)
      expect(r.code).toBe(0)
      const out = JSON.parse(r.stdout)
      expect(out.status).toBe(200)
      expect(JSON.parse(out.body)).toMatchObject({ method: m.toUpperCase(), body: 'x=1' })
      expect(out.request.signatureBase).toContain(`"@method": ${m.toUpperCase()}`)
    }
  })

  it('does not follow redirects by default', async () => {
    const r = await curl('-i', `${api.origin}/redirect?to=/echo`)
    expect(r.stdout).toMatch(/^HTTP\/1\.1 307/)
    expect(api.hits).toHaveLength(1)
  })

  it('-L re-signs each same-origin hop', async () => {
    const r = await curl('--json', '-L', '-X', 'PUT', '-d', 'b', `${api.origin}/redirect?to=/echo/there`)
    const out = JSON.parse(r.stdout)
    expect(out.status).toBe(200)
    expect(JSON.parse(out.body)).toMatchObject({ method: 'PUT', url: '/echo/there', body: 'b' })
    expect(api.hits.map((h) => h.signed)).toEqual([true, true])
  })

  it('-L does not take the request to another origin; --location-trusted does, signed for it', async () => {
    const stopped = await curl('-i', '-L', `${api.origin}/to-other`)
    expect(stopped.stdout).toMatch(/^HTTP\/1\.1 307/)
    expect(stopped.stderr).toContain('not following the redirect to another origin')
    expect(other.hits).toHaveLength(0)
    const trusted = await curl('--location-trusted', '-v', `${api.origin}/to-other`)
    expect(trusted.code).toBe(0)
    expect(other.hits).toEqual([{ method: 'GET', url: '/landed', signed: true }])
    expect(trusted.stderr).toContain(`"@authority": ${new URL(other.origin).host}`)
  })
})
