// Benchmark children run as built code, not under tsx (see bundleScript).
import { existsSync, realpathSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = fileURLToPath(new URL('.', import.meta.url))

/**
 * A benchmark child script (micro-child.ts, server-child.ts) as one ES module in test/bench/.build,
 * built as tsup builds the packages (esbuild, no `keepNames`), with Sigil's packages from their
 * sources and every other package as installed. The children ran
 * under tsx before, which compiles with `keepNames`: every closure a call creates then costs an
 * `Object.defineProperty` (`__name`) that no application running the built packages pays — 4-8% of
 * Sigil's sign and verify profiles, and nothing for the peers, which tsx loads from node_modules
 * untouched.
 */
export async function bundleScript(entry: string): Promise<string> {
  const out = `${here}.build/${basename(entry).replace(/\.ts$/, '.mjs')}`
  const root = fileURLToPath(new URL('../../', import.meta.url))
  // The directory of the package `name` as seen from `dir` (node's lookup: the nearest node_modules).
  const packageDir = (name: string, dir: string): string | undefined => {
    for (let d = dir; ; d = dirname(d)) {
      const candidate = join(d, 'node_modules', name)
      if (existsSync(candidate)) return realpathSync(candidate)
      if (dirname(d) === d) return undefined
    }
  }
  // Installed at the root, and the importer would load that same copy.
  const installed = (spec: string, importer: string): boolean => {
    const name = spec
      .split('/')
      .slice(0, spec.startsWith('@') ? 2 : 1)
      .join('/')
    const atRoot = packageDir(name, root)
    return atRoot !== undefined && atRoot === packageDir(name, dirname(importer))
  }
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['source'],
    logLevel: 'warning',
    // The CommonJS peers (aws4, Hawk, Stripe) are loaded with require(), as in impls.ts.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: [
      {
        name: 'installed-packages-external',
        setup(b) {
          // Bare imports other than @sigil/* stay imports of the installed package; a dependency of
          // one of Sigil's packages that the root does not install (@noble/hashes) is bundled.
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@sigil/')
              ? undefined
              : a.path.startsWith('node:') || installed(a.path, a.importer)
                ? { path: a.path, external: true }
                : undefined,
          )
        },
      },
    ],
  })
  return out
}
