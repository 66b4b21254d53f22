import { defineConfig, type Options } from 'tsup'

/**
 * One build shape for every package: dual ESM + CJS with .d.ts, Node 20 target. Every runtime
 * dependency ships CommonJS and ESM itself (@noble/hashes is held at 1.x: 2.x is ESM-only and
 * declares Node >= 20.19), so nothing is bundled; scripts/test-min-node.sh installs the packed
 * packages with the lowest Node `engines` allows and --engine-strict, and loads both builds.
 */
export function packageConfig(entry: string[] | Record<string, string>, platform: Options['platform'] = 'node') {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform,
  })
}
