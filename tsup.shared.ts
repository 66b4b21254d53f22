import { defineConfig, type Options } from 'tsup'

/** One build shape for every package: dual ESM + CJS with .d.ts, Node 20 target. */
export function packageConfig(entry: string[], platform: Options['platform'] = 'node') {
  return defineConfig({ entry, format: ['esm', 'cjs'], dts: true, clean: true, sourcemap: true, target: 'node20', platform })
}
