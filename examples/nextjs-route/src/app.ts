import * as route from './route.js'

/** What Next's router does for this example: `/v1/orders` by method, 404 otherwise. */
export function createHandler(): (request: Request) => Promise<Response> {
  return async (request) => {
    if (new URL(request.url).pathname !== '/v1/orders') return new Response('not found', { status: 404 })
    if (request.method === 'GET') return route.GET(request)
    if (request.method === 'POST') return route.POST(request)
    if (request.method === 'DELETE') return route.DELETE(request)
    return new Response(null, { status: 405, headers: { allow: 'GET, POST, DELETE' } })
  }
}
