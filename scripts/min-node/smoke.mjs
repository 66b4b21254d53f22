// ESM: every entry point loads with import(), then a signed request round-trips.
import { createRequire } from 'node:module'

const { entries, missingOptionalPeer } = createRequire(import.meta.url)('./entries.cjs')
let failed = 0
for (const { id, optionalPeers } of entries()) {
  try {
    await import(id)
    console.log(`ok   import('${id}')`)
  } catch (error) {
    const peer = missingOptionalPeer(error, optionalPeers)
    if (peer) {
      console.log(`skip import('${id}'): needs the optional peer ${peer}`)
      continue
    }
    failed++
    console.log(`FAIL import('${id}'): ${error.code ?? ''} ${String(error.message).split('\n')[0]}`)
  }
}

try {
  const { signRequest } = await import('@sigil/client')
  const { verify } = await import('@sigil/server')
  const secret = new Uint8Array(32).fill(7)
  const order = () =>
    new Request('http://127.0.0.1:8080/v1/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sku":"A-1"}',
    })
  const signed = await signRequest(order(), { keyId: 'kMinNode01', secret })
  const again = await signRequest(order(), { keyId: 'kMinNode01', secret })
  const tampered = new Request(again.url, { method: 'POST', headers: again.headers, body: '{"sku":"B-2"}' })
  const options = { keys: { kMinNode01: secret } }
  const ok = await verify(signed, options)
  if (ok.principal !== 'kMinNode01') throw new Error(`principal ${ok.principal}`)
  const code = await verify(tampered, options).then(
    () => 'accepted',
    (e) => e.code,
  )
  if (code !== 'DIGEST_MISMATCH') throw new Error(`tampered body: ${code}`)
  console.log('ok   ESM sign → verify, tampered body DIGEST_MISMATCH')
} catch (error) {
  failed++
  console.log(`FAIL ESM round trip: ${error.code ?? ''} ${error.message}`)
}
if (failed) {
  console.log(`${failed} ESM failure(s) on Node ${process.version}`)
  process.exitCode = 1
}
