import { packageConfig } from '../../tsup.shared'

export default packageConfig([
  'src/index.ts',
  'src/node.ts',
  'src/express.ts',
  'src/fastify.ts',
  'src/hono.ts',
  'src/msw.ts',
  'src/testing.ts',
  'src/rate-limit.ts',
  'src/internal.ts',
])
