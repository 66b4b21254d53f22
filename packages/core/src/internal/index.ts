/**
 * `@sigil/core/internal`: plumbing shared by Sigil's own packages (the options toolkit, the
 * key-liveness rule, the signature verification steps requests and responses share).
 * **Not covered by semver** and not part of the documented API: it changes whenever the packages
 * need it to. Applications use `@sigil/core` and the other packages' documented entries.
 */
export { keyStatusAt } from '../key-status.js'
export { headersFromGetter, headersFromRecord } from '../message.js'
export {
  algorithmOf,
  baseOf,
  checkProfile,
  DEFAULT_ALGORITHM,
  type Profile,
  REQUEST_REFUSALS,
  type SignatureAlgorithm,
  selectSignature,
  verifyEntry,
} from '../verify-signature.js'
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
