#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8'
import { processIo } from './io.js'
import { run } from './run.js'

// A command lives a fraction of a second: compile WebAssembly (the wasm SQLite driver) with V8's
// baseline compiler only. Tiering SQLite up costs more than the process lives: `sigil keys list`
// spent ~0.3 s compiling without this, ~0.1 s with it (scripts/test-cli-install.sh).
setFlagsFromString('--liftoff-only')

// exitCode rather than exit(): let stdout drain before the process ends.
run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code
})
