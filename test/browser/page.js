// Runs in the page, as a module next to the bundle: sign, verify, tamper; results on window.
import * as m from './sigil.js'

async function codeOf(verify) {
  try {
    await verify()
    return 'accepted'
  } catch (e) {
    return e.code
  }
}

async function run() {
  const secret = crypto.getRandomValues(new Uint8Array(32))
  const options = { keys: { kBrowserKey01: secret } }
  const credentials = { keyId: 'kBrowserKey01', secret }
  const req = new Request('https://api.example.com/v1/orders?b=2&a=1', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"sku":"A-1"}',
  })
  const signed = await m.signRequest(req, credentials)
  const v = await m.verify(signed.clone(), options)
  const again = await m.signRequest(req, credentials)
  const alsoAgain = await m.signRequest(req, credentials)
  return {
    principal: v.principal,
    body: new TextDecoder().decode(v.body),
    replay: await codeOf(() => m.verify(signed.clone(), options)),
    tamperedBody: await codeOf(() =>
      m.verify(new Request(again.url, { method: 'POST', headers: again.headers, body: '{"sku":"B-2"}' }), options),
    ),
    tamperedQuery: await codeOf(() =>
      m.verify(new Request(`${alsoAgain.url}&c=3`, { method: 'POST', headers: alsoAgain.headers, body: '{"sku":"A-1"}' }), options),
    ),
    webCrypto: m.hmacSha256 === m.webHmacSha256,
    hasNodeBuiltins: typeof globalThis.process?.getBuiltinModule === 'function',
    userAgent: navigator.userAgent,
  }
}

run().then(
  (r) => {
    window.sigilResult = r
  },
  (e) => {
    window.sigilResult = { error: String(e?.stack ?? e) }
  },
)
