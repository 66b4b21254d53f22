// What the browser test loads: the public signing and verifying API, bundled for the browser.

export { createSignedFetch, signRequest } from '@sigil/client'
export { hmacSha256, VerificationError, webHmacSha256 } from '@sigil/core'
export { problemResponse, signResponse, verify } from '@sigil/server'
