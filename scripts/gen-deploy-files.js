#!/usr/bin/env node
'use strict';
// Regenerates deploy/cradle.toml (the commented default configuration) and
// deploy/cni/10-cradle-default.conflist (cradle's default network) from the code
// that defines them (run after `npm run build`); a test keeps them current.
const fs = require('node:fs');
const path = require('node:path');
const { renderConfigToml } = require('../dist/src/config/render');
const { defaultConfig } = require('../dist/src/config/schema');
const { defaultNetworkConfig } = require('../dist/src/cni');
const root = path.join(__dirname, '..');
fs.writeFileSync(path.join(root, 'deploy', 'cradle.toml'), renderConfigToml(defaultConfig(), []));
fs.writeFileSync(path.join(root, 'deploy', 'cni', '10-cradle-default.conflist'), JSON.stringify(defaultNetworkConfig({}), null, 2) + '\n');
