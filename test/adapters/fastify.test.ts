import { fastifyHarness } from './apps.js'
import { adapterSuite } from './suite.js'

adapterSuite(fastifyHarness)
