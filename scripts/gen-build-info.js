#!/usr/bin/env node
'use strict';
// Records what `cradled version` reports about the build (git commit, tree state,
// dates, compiler) in dist/build-info.json: an installed package has no .git to ask.
// Run by `npm run build`; scripts/package.js runs it again into its staging tree.
// SOURCE_DATE_EPOCH, when set, fixes the build date (reproducible builds).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function git(args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function buildInfo() {
  const commit = git(['rev-parse', 'HEAD']);
  // Tracked files only: untracked scratch files do not change what is built.
  const dirty = commit === undefined ? undefined : git(['status', '--porcelain', '--untracked-files=no']);
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const date = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  let tsc = 'unknown';
  try {
    tsc = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version;
  } catch { /* no dev dependencies here */ }
  return {
    gitCommit: commit ?? 'unknown',
    gitCommitDate: (commit && git(['show', '-s', '--format=%cI', 'HEAD'])) || 'unknown',
    gitTreeState: dirty === undefined ? 'unknown' : dirty === '' ? 'clean' : 'dirty',
    buildDate: date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    compiler: `tsc ${tsc}`,
  };
}

function writeBuildInfo(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(buildInfo(), null, 2) + '\n');
}

module.exports = { buildInfo, writeBuildInfo };
if (require.main === module) writeBuildInfo(process.argv[2] || path.join(root, 'dist', 'build-info.json'));
