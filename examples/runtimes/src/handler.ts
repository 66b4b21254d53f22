// The one handler every runtime serves (Bun.serve, Deno.serve, a Workers module, Next.js route
// handlers): verify(request) with the options hoisted at module scope, as the README shows. No
// `authority` option: the client calls the address the server listens on.
import { createVerifier, problemResponse, verify } from '@sigil/server'
import { demoKeyStore } from '@sigil-examples/demo-keys'

// One verifier (and one replay store) per process or isolate. Constructing it draws no random
// bytes and starts no timer, so it may sit at module scope in Workers too.
const verifier = createVerifier({ keys: demoKeyStore })

/** Verify, then answer who signed and how many body bytes were verified; problem+json otherwise. */
export async function handle(request: Request): Promise<Response> {
  try {
    const v = await verify(request, verifier)
    return Response.json({ principal: v.principal, method: request.method, bytes: v.body?.byteLength ?? 0 })
  } catch (e) {
    return problemResponse(e)
  }
}
