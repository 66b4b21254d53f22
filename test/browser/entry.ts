// What the browser test loads: the public signing and verifying API, bundled for the browser.

export { createSignedFetch, signRequest } from '@sigil/client'
export { VerificationError } from '@sigil/core'
export { hmacSha256, webHmacSha256 } from '@sigil/core/internal'
export { problemResponse, verify } from '@sigil/server'
