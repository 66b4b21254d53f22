import { packageConfig } from '../../tsup.shared'

// Entry names are the dist file names in package.json `exports` (dist/node.js, dist/express.js…);
// adapters live in src/adapters/<name>/, the private plumbing in src/internal/.
export default packageConfig({
  index: 'src/index.ts',
  node: 'src/adapters/node/index.ts',
  express: 'src/adapters/express/index.ts',
  fastify: 'src/adapters/fastify/index.ts',
  hono: 'src/adapters/hono/index.ts',
  msw: 'src/adapters/msw/index.ts',
  testing: 'src/testing.ts',
  'rate-limit': 'src/rate-limit.ts',
  otel: 'src/otel.ts',
})
