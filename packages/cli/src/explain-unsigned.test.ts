import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import type { CliIo } from './io.js'
import { run } from './run.js'

// Issue 27 item 4: `sigil explain` on a request with a body and no signature prints the base Sigil
// would sign, Content-Digest computed over the body, with every parameter the verifier requires.
const dir = mkdtempSync(join(tmpdir(), 'sigil-explain-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function io() {
  const out: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: () => {} },
    env: {},
    cwd: dir,
    now: () => 1_735_689_600_000,
  }
  return { cli, out: () => out.join('') }
}

it('prints the base for an unsigned request with a body, its Content-Digest computed', async () => {
  const body = '{"sku":"A-1","qty":2}'
  writeFileSync(join(dir, 'order.json'), body)
  const a = io()
  const args = ['explain', '-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', '@order.json']
  const code = await run([...args, '--json', 'https://api.example.com/v1/orders?a=1'], a.cli)
  expect(code).toBe(1) // SIGNATURE_MISSING: the request carries no signature
  const r = JSON.parse(a.out())
  expect(r.code).toBe('SIGNATURE_MISSING')
  const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
  expect(r.signatureBase).toBe(
    [
      '"@method": POST',
      '"@authority": api.example.com',
      '"@path": /v1/orders',
      '"@query": ?a=1',
      '"content-type": application/json',
      `"content-digest": ${digest}`,
      '"@signature-params": ("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1735689600;expires=1735689900;nonce="NONCE_16_RANDOM_BYTES_B64URL";keyid="KEY_ID";alg="hmac-sha256";tag="sigil"',
    ].join('\n'),
  )
})

it('prints every required parameter for a request without a body too', async () => {
  const a = io()
  await run(['explain', 'https://api.example.com/v1/orders'], a.cli)
  expect(a.out()).toContain(
    ';created=1735689600;expires=1735689900;nonce="NONCE_16_RANDOM_BYTES_B64URL";keyid="KEY_ID";alg="hmac-sha256";tag="sigil"',
  )
})
