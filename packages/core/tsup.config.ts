import { packageConfig } from '../../tsup.shared'

// `internal` is the plumbing the other packages share (`@sigil/core/internal`, not semver).
// The entries import errors.ts: split it into one shared chunk in CJS too, so a ConfigurationError
// thrown through `internal` is `instanceof` the one `@sigil/core` exports.
export default {
  ...packageConfig({ index: 'src/index.ts', 'structured-fields': 'src/fields/index.ts', internal: 'src/internal/index.ts' }, 'neutral'),
  splitting: true,
}
