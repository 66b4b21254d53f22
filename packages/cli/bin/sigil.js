#!/usr/bin/env node
// The `sigil` bin. It is a committed file rather than dist/bin.js itself so that a workspace
// install links it before `pnpm build` has made dist/ (pnpm skips a bin whose file is missing,
// and the README installs, then builds: issue 28). It only loads the built CLI.
import('../dist/bin.js').catch((e) => {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('bin.js')) {
    process.stderr.write('sigil: @sigil/cli is not built yet: run `pnpm build` first\n')
    process.exitCode = 1
  } else throw e
})
