export {
  createBackedKeyStore,
  DEFAULT_GRACE_MS,
  type KeyRowMigration,
  type KeyStoreMigrationReport,
  type MigrateKeyRowsOptions,
  migrateKeyRows,
} from './backed-key-store.js'
export {
  CACHE_MISS,
  type CachedKeyStore,
  type CachedKeyStoreOptions,
  createCachedKeyStore,
  DEFAULT_KEY_CACHE_TTL_MS,
  KEY_CHANGE_PROPAGATION,
  type KeyCache,
  type KeyCacheStats,
} from './cached-key-store.js'
export { KEY_EXPORT_FORMAT, KeyExportError, type KeyExportHeader } from './export-format.js'
export { type ExportKeysOptions, exportKeys, type KeyExportResult } from './export-keys.js'
export {
  createKeyId,
  type GeneratedKey,
  type GenerateKeyOptions,
  generateKey,
  KEY_ID_LENGTH,
  METADATA_MAX_BYTES,
  METADATA_MAX_DEPTH,
  metadataSchema,
  SECRET_BYTES,
} from './generate-key.js'
export { type ImportKeysOptions, importKeys, type KeyImportResult } from './import-keys.js'
export type {
  BackendListQuery,
  EventListQuery,
  KeyBackend,
  KeyCountLimit,
  KeyEvent,
  NewKeyEvent,
  SecretReplacement,
  StoredKey,
  StoredKeyPatch,
} from './key-backend.js'
export {
  authorizeKeyAccess,
  authorizeKeyChange,
  authorizeNewKey,
  FULL_GRANT,
  type KeyGrant,
  keyGrantSchema,
  keyLimitError,
  parseKeyGrant,
} from './key-grant.js'
export type {
  CreatedKey,
  CreateKeyInput,
  EncryptedKeyStore,
  KeyChangeEvent,
  KeyChangeListener,
  KeyGrantOptions,
  KeyInfo,
  KeyStore,
  KeyUpdate,
  ListKeysFilter,
  MasterKeyRotation,
  MasterKeyRotationProgress,
  RotatedKey,
  RotateMasterKeyOptions,
  RotateOptions,
  UpdateKeyOptions,
} from './key-store.js'
export { generateMasterKey, type MasterKeyInput, type MasterKeyOptions, type MasterKeyRing, parseMasterKey } from './master-key.js'
export { checkMasterKeys, type MasterKeyCheck, type MasterKeyEvidence } from './master-key-check.js'
export { createMemoryBackend, createMemoryKeyStore } from './memory-store.js'
export { checkRecordMac, KeyRecordError, type RecordFields, recordMac } from './record-mac.js'
export type { KeyEnding, RestoreDiff } from './restore-plan.js'
export { KEY_ROW_FORMAT, type RowFieldChange, type UpgradedRow, upgradeKeyRow } from './row-format.js'
export { openSecret, type SealedSecret, sealSecret } from './secret-box.js'
export {
  createMemorySessionBackend,
  createMemorySessionStore,
  createSessionStore,
  type SessionBackend,
  type SessionStore,
} from './session-store.js'
export type { StoreOptions } from './store-options.js'
