#!/usr/bin/env bash
# The SQLite suites on each driver this Node can load besides the one `pnpm test` already uses
# (on Node 20 with the workspace's devDependencies: better-sqlite3). SIGIL_SQLITE_DRIVER makes
# the stores, the CLI and the test children use that driver. node:sqlite runs in test:node22.
set -euo pipefail
cd "$(dirname "$0")/.."
suites=(packages/keys/src/sqlite.test.ts test/keys-durability packages/cli/src/keys-hygiene.test.ts packages/cli/src/cli.test.ts packages/cli/src/admin.test.ts packages/admin)
for driver in wasm; do
  echo "== SQLite driver: $driver"
  SIGIL_SQLITE_DRIVER="$driver" npx vitest run "${suites[@]}"
done
