// Public API report: what each package's built .d.ts lets a user import, one file per package in
// etc/<package>.api.md. `--check` fails when the built surface differs from the committed report,
// so the public surface changes only on purpose (run `pnpm api:update` and commit the report).
// Uses the TypeScript compiler API on dist/*.d.ts (run after `pnpm build`): every export of every
// entry point in package.json `exports`, its declaration printed without comments, plus the
// non-exported declarations those reference (a change there changes the surface too).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const check = process.argv.includes('--check')

type Exports = Record<string, string | { import?: { types?: string } | string; types?: string }>

function entriesOf(dir: string): { name: string; entries: [string, string][] } {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; exports?: Exports }
  const entries: [string, string][] = []
  for (const [key, value] of Object.entries(pkg.exports ?? {})) {
    if (typeof value !== 'object' || key.endsWith('.json')) continue
    const types = typeof value.import === 'object' ? value.import.types : value.types
    if (types) entries.push([key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, join(dir, types)])
  }
  return { name: pkg.name, entries }
}

const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed })

function print(node: ts.Node): string {
  const text = printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile())
  return text.replace(/^export (default )?/, '').replace(/^declare /, '')
}

/** The top-level statement a declaration belongs to (a variable's statement, etc.). */
function statementOf(decl: ts.Node): ts.Node {
  let node = decl
  while (node.parent && !ts.isSourceFile(node.parent)) {
    if (ts.isModuleBlock(node.parent)) break
    node = node.parent
  }
  return node
}

function report(program: ts.Program, packageDir: string, entries: [string, string][]): string {
  const checker = program.getTypeChecker()
  const dist = join(packageDir, 'dist') + sep
  const sections: string[] = []
  for (const [id, file] of entries) {
    const source = program.getSourceFile(file)
    if (!source) throw new Error(`${id}: ${relative(root, file)} not built (run pnpm build)`)
    const moduleSymbol = checker.getSymbolAtLocation(source)
    const exported = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []
    const lines: string[] = []
    const seen = new Set<ts.Node>()
    const referenced = new Map<string, ts.Node>()
    const exportedTargets = new Set<ts.Symbol>()
    const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s)
    for (const s of exported) exportedTargets.add(resolve(s))
    const visit = (node: ts.Node) => {
      if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node) || ts.isTypeQueryNode(node)) {
        const name = ts.isTypeReferenceNode(node) ? node.typeName : ts.isTypeQueryNode(node) ? node.exprName : node.expression
        const symbol = checker.getSymbolAtLocation(name)
        if (symbol) {
          const target = resolve(symbol)
          if (!exportedTargets.has(target)) {
            for (const d of target.declarations ?? []) {
              if (!d.getSourceFile().fileName.startsWith(dist)) continue
              const stmt = statementOf(d)
              if (seen.has(stmt)) continue
              seen.add(stmt)
              referenced.set(`${target.getName()}#${referenced.size}`, stmt)
              ts.forEachChild(stmt, visit)
            }
          }
        }
      }
      ts.forEachChild(node, visit)
    }
    for (const s of [...exported].sort((a, b) => a.getName().localeCompare(b.getName()))) {
      const target = resolve(s)
      const decls = (target.declarations ?? []).map(statementOf)
      const text = decls.map(print).join('\n')
      const local = target.getName()
      lines.push(local === s.getName() || local === 'default' ? text : `/* exported as ${s.getName()} */ ${text}`)
      for (const d of decls) {
        seen.add(d)
        ts.forEachChild(d, visit)
      }
    }
    const extra = [...referenced.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, node]) => print(node))
    sections.push(
      `## \`${id}\`\n\n\`\`\`ts\n${lines.join('\n\n')}\n\`\`\`\n` +
        (extra.length ? `\nReferenced, not exported:\n\n\`\`\`ts\n${[...new Set(extra)].join('\n\n')}\n\`\`\`\n` : ''),
    )
  }
  return sections.join('\n')
}

const packagesDir = join(root, 'packages')
const packages = readdirSync(packagesDir)
  .filter((d) => existsSync(join(packagesDir, d, 'package.json')))
  .map((d) => ({ dir: join(packagesDir, d), ...entriesOf(join(packagesDir, d)) }))
const program = ts.createProgram(
  packages.flatMap((p) => p.entries.map(([, f]) => f)),
  {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    types: ['node'],
  },
)
const out = join(root, 'etc')
mkdirSync(out, { recursive: true })
let changed = 0
for (const p of packages) {
  const file = join(out, `${p.name.replace(/^@sigil\//, '')}.api.md`)
  const text = `# API report: \`${p.name}\`\n\nGenerated by \`pnpm api:update\` from the built \`.d.ts\` files; \`pnpm api:check\` (CI) fails when it differs.\nDo not edit by hand.\n\n${report(program, p.dir, p.entries)}`
  const before = existsSync(file) ? readFileSync(file, 'utf8') : ''
  if (before === text) continue
  changed++
  if (check) {
    console.error(`${relative(root, file)}: the public API of ${p.name} changed`)
    const a = before.split('\n')
    const b = text.split('\n')
    const gone = a.filter((l) => !b.includes(l))
    const added = b.filter((l) => !a.includes(l))
    for (const l of gone.slice(0, 40)) console.error(`- ${l}`)
    for (const l of added.slice(0, 40)) console.error(`+ ${l}`)
  } else {
    writeFileSync(file, text)
    console.log(`wrote ${relative(root, file)}`)
  }
}
if (check && changed) {
  console.error('\nIf the change is intended: pnpm build && pnpm api:update, and commit etc/.')
  process.exit(1)
}
if (check) console.log(`API reports match (${packages.length} packages)`)
