#!/usr/bin/env node
'use strict';
// Regenerates docs/config.md from the config schema (run after `npm run build`).
const fs = require('node:fs');
const path = require('node:path');
const { renderConfigReference } = require('../dist/src/config/render');
fs.writeFileSync(path.join(__dirname, '..', 'docs', 'config.md'), renderConfigReference());
