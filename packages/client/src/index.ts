export type { Credentials, SignerOptions } from './options.js'
export { componentsFor, digestBody, signRequest } from './sign-request.js'
export { type BodyFactory, createSignedFetch, type SignedFetchOptions } from './signed-fetch.js'
