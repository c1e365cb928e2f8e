#!/usr/bin/env node
'use strict';
// Regenerates deploy/cradle.toml (the commented default configuration) and
// deploy/cni/10-cradle-default.conflist (cradle's default network) from the code
// that defines them (run after `npm run build`); a test keeps them current.
const fs = require('node:fs');
const path = require('node:path');
const { renderDefaultConfigFile } = require('../dist/src/config/render');
const { defaultNetworkConfig } = require('../dist/src/cni');
const root = path.join(__dirname, '..');
fs.writeFileSync(path.join(root, 'deploy', 'cradle.toml'), renderDefaultConfigFile());
fs.writeFileSync(path.join(root, 'deploy', 'cni', '10-cradle-default.conflist'), JSON.stringify(defaultNetworkConfig({}), null, 2) + '\n');
