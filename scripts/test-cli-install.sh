#!/usr/bin/env bash
# Issue 12 item 3: installing the CLI compiles nothing and takes seconds; `sigil keys list` answers
# fast. Packs @sigil/cli and its workspace dependencies (`pnpm pack`, as test-min-node.sh does),
# installs the CLI tarball with npm into a fresh folder (--prefer-offline: the local npm cache,
# the registry for what it lacks), then times `sigil keys create` and `sigil keys list`.
# Needs `pnpm build` first. Targets (a quiet machine): install <= 20 s, keys list <= 0.4 s. The
# asserted bounds are wider, so a loaded shared CI box reports slow figures instead of flaking:
#   SIGIL_CLI_INSTALL_MAX_S (default 90), SIGIL_CLI_LIST_MAX_MS (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d "${TMPDIR:-/tmp}/sigil-cli-install-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/packs" "$work/app" "$work/use"
for name in core client server keys redis admin cli; do
  (cd "packages/$name" && pnpm pack --pack-destination "$work/packs" >/dev/null)
done

# The CLI tarball as the one dependency; its @sigil/* dependencies (0.1.0, not on the registry
# yet) point at their tarballs through overrides.
node - "$work" <<'JS'
const { readdirSync, writeFileSync } = require('node:fs')
const [work] = process.argv.slice(2)
const packs = {}
for (const f of readdirSync(`${work}/packs`)) {
  const m = /^sigil-(.+)-\d+\.\d+\.\d+.*\.tgz$/.exec(f)
  if (m) packs[`@sigil/${m[1]}`] = `file:${work}/packs/${f}`
}
const pkg = { name: 'cli-install-check', private: true, dependencies: { '@sigil/cli': packs['@sigil/cli'] }, overrides: packs }
writeFileSync(`${work}/app/package.json`, JSON.stringify(pkg, null, 2))
JS

echo "node $(node --version), npm $(npm --version)"
cd "$work/app"
start=$(date +%s%N)
npm install --prefer-offline --no-audit --no-fund --foreground-scripts --loglevel=error >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  exit 1
}
install_ms=$((($(date +%s%N) - start) / 1000000))

status=0
# Compiles nothing: no package in the tree has an install script (node-gyp runs from those),
# nothing was built, and better-sqlite3 is not pulled in.
scripts="$(npm query ':attr(scripts, [install]), :attr(scripts, [preinstall]), :attr(scripts, [postinstall])' | node -p "JSON.parse(require('fs').readFileSync(0, 'utf8')).map((p) => p.name + '@' + p.version).join(' ')")"
if [ -n "$scripts" ]; then
  echo "FAIL: packages with install scripts: $scripts" >&2
  status=1
fi
if grep -qiE 'node-gyp|gyp info|g\+\+|cc1plus' "$work/install.log" || [ -n "$(find node_modules -path '*/build/Release/*' -print -quit)" ]; then
  echo "FAIL: the install compiled native code" >&2
  status=1
fi
if [ -e node_modules/better-sqlite3 ]; then
  echo "FAIL: better-sqlite3 was installed" >&2
  status=1
fi
driver="$(node -p "require('@sigil/keys/sqlite').resolveSqliteDriver()")"
echo "installed @sigil/cli in $((install_ms / 1000)).$(printf '%03d' $((install_ms % 1000))) s (target <= 20 s); $(ls node_modules | wc -l) top-level packages; SQLite driver: $driver"

# sigil keys create + list, spawned as a user runs them; medians of several runs.
cd "$work/use"
SIGIL_BIN="$work/app/node_modules/.bin/sigil" node - <<'JS' || status=1
const { spawnSync } = require('node:child_process')
const { randomBytes } = require('node:crypto')
const bin = process.env.SIGIL_BIN
const env = { ...process.env, SIGIL_MASTER_KEY: randomBytes(32).toString('base64') }
// CPU time of finished children (Linux /proc/self/stat cutime + cstime, 100 ticks/s): on a
// loaded shared machine wall time is mostly waiting for a core, CPU time is what the command costs.
const childCpuMs = () => {
  try {
    const f = require('node:fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
    return (Number(f[13]) + Number(f[14])) * 10
  } catch {
    return Number.NaN
  }
}
const time = (cmd, args) => {
  const c0 = childCpuMs()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return { ms, cpu: childCpuMs() - c0, out: r.stdout }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const runs = 7
const create = []
for (let i = 0; i < 3; i++) create.push(time(bin, ['keys', 'create', '--principal', `p${i}`, '--json']).ms)
const list = []
const listCpu = []
let listed = 0
for (let i = 0; i < runs; i++) {
  const r = time(bin, ['keys', 'list', '--json'])
  list.push(r.ms)
  listCpu.push(r.cpu)
  listed = JSON.parse(r.out).length
}
const bare = []
const bareCpu = []
for (let i = 0; i < runs; i++) {
  const r = time(process.execPath, ['-e', '0'])
  bare.push(r.ms)
  bareCpu.push(r.cpu)
}
const f = (ms) => `${(ms / 1000).toFixed(3)} s`
console.log(`sigil keys create: median ${f(median(create))} (3 runs)`)
console.log(`sigil keys list:   median ${f(median(list))}, min ${f(Math.min(...list))}, CPU median ${f(median(listCpu))} (${runs} runs, ${listed} keys; target <= 0.4 s)`)
console.log(`node -e 0:         median ${f(median(bare))}, CPU median ${f(median(bareCpu))} (the floor on this machine now)`)
console.log(`load average:      ${require('node:os').loadavg().map((x) => x.toFixed(1)).join(' ')} on ${require('node:os').availableParallelism()} CPUs`)
if (listed !== 3) throw new Error(`keys list showed ${listed} keys, expected 3`)
const max = Number(process.env.SIGIL_CLI_LIST_MAX_MS ?? 2000)
if (median(list) > max) throw new Error(`keys list median ${f(median(list))} is over ${max} ms`)
JS

max_s="${SIGIL_CLI_INSTALL_MAX_S:-90}"
if [ "$install_ms" -gt $((max_s * 1000)) ]; then
  echo "FAIL: install took over ${max_s} s" >&2
  status=1
fi
[ "$status" = 0 ] && echo "cli install: ok"
exit "$status"
