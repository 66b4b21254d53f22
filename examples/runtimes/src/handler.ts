// The one handler every runtime serves (Bun.serve, Deno.serve, a Workers module, Next.js route
// handlers): verify(request) with the options hoisted at module scope, as the README shows. No
// `authority` option: the client calls the address the server listens on.
import { createVerifier, problemResponse, signResponse, verify } from '@sigil/server'
import { demoKeyStore } from '@sigil-examples/demo-keys'

// One verifier (and one replay store) per process or isolate. Constructing it draws no random
// bytes and starts no timer, so it may sit at module scope in Workers too.
const verifier = createVerifier({ keys: demoKeyStore })
// `?encrypted`: bodies must come aes128gcm-encrypted, and the answer goes back encrypted (SPEC §8).
const encrypted = createVerifier({ keys: demoKeyStore, encryptedBodies: 'required' })

/** Verify, then answer who signed and how many body bytes were verified; problem+json otherwise. */
export async function handle(request: Request): Promise<Response> {
  try {
    if (new URL(request.url).searchParams.has('encrypted')) {
      const v = await verify(request, encrypted)
      const text = new TextDecoder().decode(v.body ?? new Uint8Array(0))
      const answer = Response.json({ principal: v.principal, encrypted: v.encrypted === true, text })
      return await signResponse(answer, v, request, { verifier: encrypted, encryptResponses: true })
    }
    const v = await verify(request, verifier)
    return Response.json({ principal: v.principal, method: request.method, bytes: v.body?.byteLength ?? 0 })
  } catch (e) {
    return problemResponse(e)
  }
}
