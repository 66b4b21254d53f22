import { createSignedFetch } from '@sigil/client'

const api = createSignedFetch({ token: process.env.SIGIL_TOKEN ?? '' })

export async function createOrder(): Promise<unknown> {
  const res = await api('https://api.example.com/v1/orders?b=2&a=1', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sku: 'A-1', qty: 2 }),
  })
  return res.json()
}
