import { packageConfig } from '../../tsup.shared'

export default packageConfig(['src/index.ts', 'src/postgres.ts', 'src/sqlite.ts', 'src/testing.ts'])
