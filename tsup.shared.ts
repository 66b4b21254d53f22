import type { Plugin } from 'esbuild'
import { defineConfig, type Options } from 'tsup'

/**
 * Dependencies that ship ESM only. Node before 20.19 cannot require() ESM (ERR_REQUIRE_ESM), and
 * `engines` says >= 20.18, so the CommonJS build carries its own copy of these (bundled); the ESM
 * build imports them as ordinary dependencies. scripts/test-min-node.sh proves both on 20.18.0.
 */
const ESM_ONLY_DEPENDENCIES = [/^@noble\/hashes(?:\/|$)/]

/** Keeps ESM_ONLY_DEPENDENCIES external in the ESM build; tsup's noExternal bundles them into CJS. */
const externalInEsm: Plugin = {
  name: 'sigil-external-in-esm',
  setup(build) {
    if (build.initialOptions.format !== 'esm') return
    for (const filter of ESM_ONLY_DEPENDENCIES) build.onResolve({ filter }, (args) => ({ path: args.path, external: true }))
  },
}

/** One build shape for every package: dual ESM + CJS with .d.ts, Node 20 target. */
export function packageConfig(entry: string[], platform: Options['platform'] = 'node') {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform,
    noExternal: ESM_ONLY_DEPENDENCIES,
    esbuildPlugins: [externalInEsm],
  })
}
