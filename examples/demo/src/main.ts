// pnpm demo — a verifying node:http server and a signed client on 127.0.0.1, showing in a few
// lines what Sigil accepts, what it rejects and why. Exits non-zero if any outcome differs.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { withSigil } from '@sigil/server/node'

const tty = process.stdout.isTTY
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s)
const green = paint(32)
const red = paint(31)
const dim = paint(2)
const bold = paint(1)

// Embedded defaults: one partner key, in-memory key and nonce stores.
const keyId = 'kDemoPartner01'
const secret = new Uint8Array(randomBytes(32))
const server = createServer(
  withSigil({ keys: { [keyId]: secret } }, (_req, res, verified) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok: true, principal: verified?.principal, bytes: verified?.body?.byteLength ?? 0 }))
  }),
)
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

let failures = 0
async function show(title: string, expect: number | string, run: () => Promise<Response>, note?: () => string) {
  const res = await run()
  const body = (await res.json()) as { code?: string; principal?: string }
  const outcome = res.ok ? `${res.status} accepted (principal ${body.principal})` : `${res.status} ${body.code}`
  const pass = res.ok ? expect === res.status : expect === body.code
  if (!pass) failures++
  console.log(`${pass ? green('✔') : red('✘')} ${bold(title.padEnd(44))} → ${pass ? outcome : red(`${outcome}, expected ${expect}`)}`)
  if (note) console.log(dim(`    ${note()}`))
}

// A man in the middle: an injected fetch that can alter or keep what the signed client sends.
let lastSigned: Request | undefined
const tamper = (change?: (r: Request) => Promise<Request>) => async (url: string, init: RequestInit) => {
  const r = new Request(url, init)
  lastSigned = r.clone()
  return fetch(change ? await change(r) : r)
}
const client = (over: Partial<Parameters<typeof createSignedFetch>[0]> = {}) =>
  createSignedFetch({ keyId, secret, ...over } as Parameters<typeof createSignedFetch>[0])
const order = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'A-1', qty: 2 }) }

console.log(bold(`Sigil demo — server ${base}, key ${keyId}\n`))

await show(
  'signed request',
  200,
  () => client({ fetch: tamper() })(`${base}/v1/orders?b=2&a=1`, order),
  () => {
    const h = lastSigned!.headers
    return `Content-Digest: ${h.get('content-digest')}\n    Signature-Input: ${h.get('signature-input')}\n    Signature: ${h.get('signature')?.slice(0, 24)}…`
  },
)

await show('body changed in transit', 'DIGEST_MISMATCH', () =>
  client({ fetch: tamper(async (r) => new Request(r, { body: JSON.stringify({ sku: 'A-1', qty: 200 }) })) })(`${base}/v1/orders`, order),
)

await show('path changed in transit', 'SIGNATURE_INVALID', () =>
  client({ fetch: tamper(async (r) => new Request(r.url.replace('/v1/orders', '/v1/refunds'), r)) })(`${base}/v1/orders`, order),
)

await show('same request replayed', 'NONCE_REPLAYED', async () => {
  await client({ fetch: tamper() })(`${base}/v1/orders`, order)
  return fetch(lastSigned!)
})

const skewed = (minutes: number) => {
  const attempts: string[] = []
  return {
    attempts,
    run: () =>
      client({
        now: () => Date.now() + minutes * 60_000,
        fetch: async (url, init) => {
          const res = await fetch(url, init)
          attempts.push(res.ok ? `${res.status}` : `${res.status} ${((await res.clone().json()) as { code: string }).code}`)
          return res
        },
      })(`${base}/v1/orders`, order),
  }
}
const fast = skewed(10)
await show(
  'client clock 10 minutes fast',
  200,
  fast.run,
  () => `attempts: ${fast.attempts.join(' → ')} (clock corrected from the server's Date header, then re-signed)`,
)
// A forward correction beyond the window is never taken from an unsigned 401: a forged Date
// would make the client sign requests that verify only later (a pre-signed replay).
const slow = skewed(-10)
await show(
  'client clock 10 minutes slow',
  'CLOCK_SKEW',
  slow.run,
  () => `attempts: ${slow.attempts.join(' → ')} (a forward correction over the window is refused: fix the clock)`,
)

await show('unknown key', 'KEY_UNKNOWN', () =>
  createSignedFetch({ keyId: 'kSomeoneElse99', secret: randomBytes(32).toString('base64url') })(`${base}/v1/orders`, order),
)

server.close()
console.log(failures ? red(`\n${failures} outcome(s) differed`) : green('\nall outcomes as expected'))
process.exit(failures ? 1 : 0)
