import { honoHarness } from './apps.js'
import { adapterSuite } from './suite.js'

adapterSuite(honoHarness)
