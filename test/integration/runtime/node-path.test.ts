// The Node create stays a complete path (specs the launch plan does not cover, and
// any caller without a plan): the lifecycle, security and spec-feature tests run
// again here with no plan written.
process.env.CRADLE_TEST_LAUNCHER = 'node';
require('./lifecycle.test');
require('./security.test');
require('./spec-features.test');
