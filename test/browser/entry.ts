// What the browser test loads: the public signing and verifying API, bundled for the browser.

export { createSignedFetch, signRequest } from '@sigil/client'
export { bodyEncryption } from '@sigil/client/encrypted'
export { VerificationError } from '@sigil/core'
export { hmacSha256, webHmacSha256 } from '@sigil/core/internal'
export { problemResponse, signResponse, verify } from '@sigil/server'
