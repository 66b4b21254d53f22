// CommonJS: every entry point loads with require(), then a signed request round-trips.
const { entries, missingOptionalPeer } = require('./entries.cjs')

let failed = 0
for (const { id, optionalPeers } of entries()) {
  try {
    require(id)
    console.log(`ok   require('${id}')`)
  } catch (error) {
    const peer = missingOptionalPeer(error, optionalPeers)
    if (peer) {
      console.log(`skip require('${id}'): needs the optional peer ${peer}`)
      continue
    }
    failed++
    console.log(`FAIL require('${id}'): ${error.code ?? ''} ${String(error.message).split('\n')[0]}`)
  }
}

async function roundTrip() {
  const { signRequest } = require('@sigil/client')
  const { verify } = require('@sigil/server')
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
  console.log('ok   CJS sign → verify, tampered body DIGEST_MISMATCH')
}

// Over a real socket: the undici interceptor signs, the node:http adapter verifies.
async function overSocket() {
  const { createServer } = require('node:http')
  const { Agent, request } = require('undici')
  const { createSigningInterceptor } = require('@sigil/client/undici')
  const { sendProblem, verifyNodeRequest } = require('@sigil/server/node')
  const secret = new Uint8Array(32).fill(9)
  const server = createServer(async (req, res) => {
    try {
      const { principal } = await verifyNodeRequest(req, { keys: { kMinNode02: secret } })
      res.end(principal)
    } catch (error) {
      sendProblem(res, error)
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  const agent = new Agent().compose(createSigningInterceptor({ keyId: 'kMinNode02', secret }))
  try {
    const signed = await request(`${origin}/v1/orders`, { method: 'POST', body: '{"sku":"A-1"}', dispatcher: agent })
    const unsigned = await request(`${origin}/v1/orders`, { method: 'POST', body: '{"sku":"A-1"}' })
    const body = await signed.body.text()
    const problem = await unsigned.body.json()
    if (signed.statusCode !== 200 || body !== 'kMinNode02') throw new Error(`signed: ${signed.statusCode} ${body}`)
    if (unsigned.statusCode !== 401 || problem.code !== 'SIGNATURE_MISSING')
      throw new Error(`unsigned: ${unsigned.statusCode} ${problem.code}`)
    console.log('ok   CJS undici interceptor → node:http verifyNodeRequest on 127.0.0.1; unsigned SIGNATURE_MISSING')
  } finally {
    await agent.close()
    await new Promise((resolve) => server.close(resolve))
  }
}

roundTrip()
  .then(overSocket)
  .catch((error) => {
    failed++
    console.log(`FAIL CJS round trip: ${error.code ?? ''} ${error.message}`)
  })
  .finally(() => {
    if (failed) {
      console.log(`${failed} CommonJS failure(s) on Node ${process.version}`)
      process.exitCode = 1
    }
  })
