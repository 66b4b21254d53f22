/**
 * `@sigil/core/internal`: plumbing shared by Sigil's own packages (the options toolkit).
 * **Not covered by semver** and not part of the documented API: it changes whenever the packages
 * need it to. Applications use `@sigil/core` and the other packages' documented entries.
 */
export {
  checkOptions,
  closestName,
  describeZodError,
  editDistance,
  type OptionsIssue,
  optionNames,
  optionsError,
  type Rename,
  type Renames,
  renamedMessage,
  schemaKeys,
  unknownMessage,
  zodOptionsError,
} from './options.js'
export { rateLimitsProblem } from './rate-limits.js'
