import { createSignedFetch } from '@sigil/client'
import { createSigningInterceptor } from '@sigil/client/undici'
import { DEMO_PARTNER, DEMO_READONLY } from '@sigil-examples/demo-keys'
import { Agent, request } from 'undici'

/** One call's outcome, as the example prints it. */
export interface Outcome {
  via: string
  call: string
  status: number
  body: unknown
}

/**
 * Call a Sigil-protected API the two ways a Node client does: `createSignedFetch` (a drop-in
 * `fetch`) and the undici interceptor (for code on `undici.request` or a shared `Agent`).
 */
export async function callApi(baseUrl: string): Promise<Outcome[]> {
  const out: Outcome[] = []
  const order = JSON.stringify({ sku: 'A-1', qty: 2 })

  const api = createSignedFetch(DEMO_PARTNER)
  const created = await api(`${baseUrl}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: order })
  out.push({ via: 'createSignedFetch', call: 'POST /v1/orders', status: created.status, body: await created.json() })
  const listed = await api(`${baseUrl}/v1/orders?limit=10`)
  out.push({ via: 'createSignedFetch', call: 'GET /v1/orders?limit=10', status: listed.status, body: await listed.json() })
  const readonly = createSignedFetch(DEMO_READONLY)
  const denied = await readonly(`${baseUrl}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: order })
  out.push({ via: 'createSignedFetch (read-only key)', call: 'POST /v1/orders', status: denied.status, body: await denied.json() })

  const agent = new Agent().compose(createSigningInterceptor(DEMO_PARTNER))
  try {
    const posted = await request(`${baseUrl}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: order,
      dispatcher: agent,
    })
    out.push({ via: 'undici interceptor', call: 'POST /v1/orders', status: posted.statusCode, body: await posted.body.json() })
    const got = await request(`${baseUrl}/v1/orders`, { dispatcher: agent })
    out.push({ via: 'undici interceptor', call: 'GET /v1/orders', status: got.statusCode, body: await got.body.json() })
  } finally {
    await agent.close()
  }
  const unsigned = await fetch(`${baseUrl}/v1/orders`)
  out.push({ via: 'plain fetch (unsigned)', call: 'GET /v1/orders', status: unsigned.status, body: await unsigned.json() })
  return out
}
