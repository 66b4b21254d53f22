// Reached only when middleware.ts accepted the request.
export const runtime = 'edge'
const ok = (request: Request) => Response.json({ principal: request.headers.get('x-sigil-principal'), method: request.method })
export const POST = ok
export const DELETE = ok
export const GET = ok
