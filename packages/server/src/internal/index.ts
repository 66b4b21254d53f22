/**
 * `@sigil/server/internal`: the plumbing adapters and the `sigil` CLI are built from — option
 * compilation, request views, origin resolution, exemption matching, usage recording. Exported so
 * Sigil's own packages and tests can reach it; **not covered by semver**: it changes whenever the
 * adapters need it to. Applications use `@sigil/server` and its adapter subpaths.
 */
export { type CompiledAdapter, compileAdapter } from './adapter-options.js'
export { resolveOrigin } from './authority.js'
export { declaredBody } from './incoming.js'
export { compileOptions } from './options.js'
export { presignedView } from './presigned.js'
export { exemptMatcher } from './route-requirements.js'
export { recordUsage } from './usage.js'
export { incomingFromRequest, verifierFor } from './verify.js'
