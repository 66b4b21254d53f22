#!/usr/bin/env bash
# publint and arethetypeswrong on the packed tarball of every package (STYLE: Exports and packaging).
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in packages/*/; do
  echo "== ${dir}"
  npx publint "$dir" --strict
  # node10 resolution predates `exports`; subpaths are reachable only through exports.
  npx attw --pack "$dir" --profile node16 --format table-flipped
done
