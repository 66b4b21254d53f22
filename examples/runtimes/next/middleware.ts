// Next.js 15 middleware (edge runtime): verify every /mw request before any route sees it.
import { problemResponse, verify } from '@sigil/server'
import { demoKeyStore } from '@sigil-examples/demo-keys'
import { NextResponse } from 'next/server'

const options = { keys: demoKeyStore }

export async function middleware(request: Request) {
  try {
    const v = await verify(request, options)
    const headers = new Headers(request.headers)
    headers.set('x-sigil-principal', v.principal)
    return NextResponse.next({ request: { headers } })
  } catch (e) {
    return problemResponse(e)
  }
}

export const config = { matcher: '/mw/:path*' }
