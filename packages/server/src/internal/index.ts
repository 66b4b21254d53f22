/**
 * The plumbing the adapters are built from — option compilation, request views, origin
 * resolution, exemption matching, usage recording — gathered for the repository's own tests and
 * benches. Not a package entry: applications use `@sigil/server` and its adapter subpaths.
 */
export { type CompiledAdapter, compileAdapter } from './adapter-options.js'
export { resolveOrigin } from './authority.js'
export { declaredBody } from './incoming.js'
export { compileOptions } from './options.js'
export { presignedView } from './presigned.js'
export { exemptMatcher } from './route-requirements.js'
export { recordUsage } from './usage.js'
export { incomingFromRequest, verifierFor } from './verify.js'
