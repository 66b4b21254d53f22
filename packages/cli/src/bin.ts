#!/usr/bin/env node
import { processIo } from './io.js'
import { run } from './run.js'

// exitCode rather than exit(): let stdout drain before the process ends.
run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code
})
