/**
 * Schema of the SQLite key store, in order. Applied versions are recorded in `{table}_migrations`
 * and each pending step runs once, inside one write transaction, when a store opens; steps are
 * also written `IF NOT EXISTS` so a half-applied database recovers. `{table}` is
 * replaced by the table name. Append new steps; never edit a shipped one.
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
CREATE TABLE IF NOT EXISTS "{table}" (
  key_id TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  scopes TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  not_after INTEGER,
  revoked_at INTEGER,
  replaced_by TEXT,
  limits TEXT,
  metadata TEXT,
  secret_ciphertext BLOB NOT NULL,
  master_key_version TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "{table}_principal" ON "{table}" (principal);
CREATE INDEX IF NOT EXISTS "{table}_master_key_version" ON "{table}" (master_key_version);
`,
  },
  {
    // Row versions for compare-and-set edits; a check value per master-key version so a wrong
    // SIGIL_MASTER_KEY is refused at open; the principal index also orders pages by key id.
    version: 2,
    sql: `
ALTER TABLE "{table}" ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS "{table}_master_keys" (
  version TEXT PRIMARY KEY,
  check_value BLOB NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
DROP INDEX IF EXISTS "{table}_principal";
CREATE INDEX IF NOT EXISTS "{table}_principal_key_id" ON "{table}" (principal, key_id);
`,
  },
  {
    // Record MACs (every authorization field under the master key; NULL on rows written before,
    // which the next open authenticates once while the meta marker is there), and the audit log
    // as an outbox written in the transaction of each change.
    version: 3,
    sql: `
ALTER TABLE "{table}" ADD COLUMN record_mac BLOB;
CREATE TABLE IF NOT EXISTS "{table}_meta" (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO "{table}_meta" (name, value) VALUES ('authenticate_legacy_rows', 'pending');
CREATE TABLE IF NOT EXISTS "{table}_events" (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  key_id TEXT,
  principal TEXT,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS "{table}_events_principal" ON "{table}_events" (principal, id);
`,
  },
  {
    // Test keys (SPEC §4): set at creation, never changed; 0 for every existing key.
    // Version 4, not 3: 3 is the record MACs and audit log, which landed at the same time.
    version: 4,
    sql: `
ALTER TABLE "{table}" ADD COLUMN test INTEGER NOT NULL DEFAULT 0 CHECK (test IN (0, 1));
`,
  },
  {
    // Sign-in sessions and spent one-time tokens of the admin portal, shared by
    // every portal instance on the file. Ids are SHA-256 hashes of the tokens, never the tokens;
    // expiry is checked in each query, and the expires_at indexes serve the sweep.
    version: 5,
    sql: `
CREATE TABLE IF NOT EXISTS "{table}_sessions" (
  id TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "{table}_sessions_expires_at" ON "{table}_sessions" (expires_at);
CREATE TABLE IF NOT EXISTS "{table}_spent_tokens" (
  id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "{table}_spent_tokens_expires_at" ON "{table}_spent_tokens" (expires_at);
`,
  },
  {
    // Row format: NULL on rows written before, read by their content.
    version: 6,
    sql: `
ALTER TABLE "{table}" ADD COLUMN format INTEGER;
`,
  },
]
