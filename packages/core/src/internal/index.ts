/**
 * `@sigil/core/internal`: plumbing shared by Sigil's own packages (the options toolkit).
 * **Not covered by semver** and not part of the documented API: it changes whenever the packages
 * need it to. Applications use `@sigil/core` and the other packages' documented entries.
 */

export {
  createEceDecrypter,
  createEceEncrypter,
  ECE_MAX_RECORD_SIZE,
  ECE_RECORD_SIZE,
  type EceDecrypter,
  type EceDecryptOptions,
  type EceEncrypter,
  type EceEncryptOptions,
} from '../ece.js'
export { deriveEncryptionKey, ECE_CODING, ECE_KEY_INFO, hkdfSha256 } from '../ece-key.js'
export { decryptBytes, decryptChunks, decryptStream, encryptBytes, encryptChunks, encryptStream } from '../ece-stream.js'
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
