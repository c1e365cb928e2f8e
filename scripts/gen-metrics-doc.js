#!/usr/bin/env node
'use strict';
// Regenerates docs/metrics.md from the metrics registry (run after `npm run build`).
const fs = require('node:fs');
const path = require('node:path');
const { renderMetricsReference } = require('../dist/src/metrics/reference');
renderMetricsReference().then((text) => {
  fs.writeFileSync(path.join(__dirname, '..', 'docs', 'metrics.md'), text);
  process.exit(0);
});
