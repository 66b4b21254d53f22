import { packageConfig } from '../../tsup.shared'

export default packageConfig(
  ['src/index.ts', 'src/undici.ts', 'src/testing.ts', 'src/axios.ts', 'src/got.ts', 'src/responses.ts', 'src/encrypted.ts'],
  'neutral',
)
