// app/v1/orders/route.ts in a Next.js app: the handlers take a Web Request and return a Response,
// so verify() is all it takes (the same code serves Bun, Deno and Workers fetch handlers).

import { problemResponse, type VerifyOptions, verify } from '@sigil/server'
import { demoKeyStore } from '@sigil-examples/demo-keys'

// One options object per process: verify() compiles it once and caches the verifier on it.
const options: VerifyOptions = {
  keys: demoKeyStore,
  ...(process.env.SIGIL_AUTHORITY ? { authority: process.env.SIGIL_AUTHORITY } : {}),
}
const orders: unknown[] = []

export async function GET(request: Request): Promise<Response> {
  try {
    const { principal } = await verify(request, options, { requiredScopes: ['orders:read'] })
    return Response.json({ by: principal, orders })
  } catch (e) {
    return problemResponse(e)
  }
}

export async function POST(request: Request): Promise<Response> {
  try {
    const { principal } = await verify(request, options, { requiredScopes: ['orders:write'] })
    // verify() read a clone: the body is still here for the handler.
    const order = await request.json()
    orders.push(order)
    return Response.json({ id: orders.length, by: principal, order }, { status: 201 })
  } catch (e) {
    return problemResponse(e)
  }
}

export async function DELETE(request: Request): Promise<Response> {
  try {
    // A body-less DELETE: Next hands it a body stream that ends at once; zero bytes is no body.
    const { principal } = await verify(request, options, { requiredScopes: ['orders:write'] })
    orders.length = 0
    return Response.json({ by: principal, deleted: true })
  } catch (e) {
    return problemResponse(e)
  }
}
