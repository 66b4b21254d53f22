// Every entry point (package.json `exports`) of every installed @sigil/* package, and the
// optional peer dependencies an entry may need (those are not installed here).
const { readdirSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

function entries() {
  const dir = join(process.cwd(), 'node_modules', '@sigil')
  const out = []
  for (const name of readdirSync(dir)) {
    const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8'))
    const optionalPeers = Object.keys(pkg.peerDependenciesMeta ?? {}).filter((p) => pkg.peerDependenciesMeta[p].optional)
    for (const key of Object.keys(pkg.exports ?? { '.': null })) {
      if (key.endsWith('.json')) continue
      out.push({ id: key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`, optionalPeers })
    }
  }
  return out
}

/** The optional peer that a load failure is about, if that is all it is. */
function missingOptionalPeer(error, optionalPeers) {
  const message = String(error?.message ?? '')
  if (error?.code !== 'MODULE_NOT_FOUND' && error?.code !== 'ERR_MODULE_NOT_FOUND') return undefined
  return optionalPeers.find((peer) => message.includes(`'${peer}'`))
}

module.exports = { entries, missingOptionalPeer }
