/**
 * Schema of the PostgreSQL key store, in order; `{schema}` and `{table}` are replaced by quoted
 * identifiers, `{name}` by the bare table name. Each pending step runs once in one transaction under an
 * advisory lock (so instances starting together do not race) and is recorded in
 * `{table}_migrations`; steps are also `IF NOT EXISTS` so a half-applied database recovers.
 * Append new steps; never edit a shipped one.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
CREATE TABLE IF NOT EXISTS {schema}.{table} (
  key_id text PRIMARY KEY,
  principal text NOT NULL,
  scopes jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'revoked')),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expires_at timestamptz,
  not_after timestamptz,
  revoked_at timestamptz,
  replaced_by text,
  limits jsonb,
  metadata jsonb,
  secret_ciphertext bytea NOT NULL,
  master_key_version text NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_principal" ON {schema}.{table} (principal);
CREATE INDEX IF NOT EXISTS "{name}_master_key_version" ON {schema}.{table} (master_key_version);
`,
  },
  {
    // Row versions for compare-and-set edits; a check value per master-key version so a wrong
    // SIGIL_MASTER_KEY is refused at open; key-id indexes in the "C" collation, the order pages
    // (and the cursor) use whatever the database's default collation is.
    version: 2,
    sql: `
ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS {schema}."{name}_master_keys" (
  version text PRIMARY KEY,
  check_value bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
DROP INDEX IF EXISTS {schema}."{name}_principal";
CREATE INDEX IF NOT EXISTS "{name}_key_id_c" ON {schema}.{table} (key_id COLLATE "C");
CREATE INDEX IF NOT EXISTS "{name}_principal_key_id_c" ON {schema}.{table} (principal, key_id COLLATE "C");
`,
  },
  {
    // Record MACs (every authorization field under the master key; NULL on rows written before,
    // which the next open authenticates once while the meta marker is there), and the audit log
    // as an outbox written in the transaction (the statement) of each change.
    version: 3,
    sql: `
ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS record_mac bytea;
CREATE TABLE IF NOT EXISTS {schema}."{name}_meta" (name text PRIMARY KEY, value text NOT NULL);
INSERT INTO {schema}."{name}_meta" (name, value) VALUES ('authenticate_legacy_rows', 'pending') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {schema}."{name}_events" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  key_id text,
  principal text,
  detail jsonb
);
CREATE INDEX IF NOT EXISTS "{name}_events_principal" ON {schema}."{name}_events" (principal, id);
`,
  },
  {
    // Test keys (SPEC §4): set at creation, never changed; false for every existing key.
    // Version 4, not 3: 3 is the record MACs and audit log, which landed at the same time.
    version: 4,
    sql: `
ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS test boolean NOT NULL DEFAULT false;
`,
  },
  {
    // Sign-in sessions and spent one-time tokens of the admin portal, shared by
    // every portal instance on the database. Ids are SHA-256 hashes of the tokens, never the
    // tokens; expiry is checked in each query, and the expires_at indexes serve the sweep.
    version: 5,
    sql: `
CREATE TABLE IF NOT EXISTS {schema}."{name}_sessions" (
  id text PRIMARY KEY,
  data text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_sessions_expires_at" ON {schema}."{name}_sessions" (expires_at);
CREATE TABLE IF NOT EXISTS {schema}."{name}_spent_tokens" (
  id text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_spent_tokens_expires_at" ON {schema}."{name}_spent_tokens" (expires_at);
`,
  },
  {
    // Row format: NULL on rows written before, read by their content.
    version: 6,
    sql: `
ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS format integer;
`,
  },
]
