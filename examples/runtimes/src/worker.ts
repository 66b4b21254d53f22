// A Cloudflare Workers module (run here by workerd, no nodejs_compat). Bundle with esbuild.
import { handle } from './handler.ts'

export default { fetch: handle }
