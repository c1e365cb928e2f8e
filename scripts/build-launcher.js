#!/usr/bin/env node
// Builds the native launcher (src/oci-runtime/launcher/*.c) into dist/bin/cradle-runtime,
// or into OUT (`build-launcher.js [OUT]`, with CC a cross compiler for another
// architecture's VM lane). Run at the end of `npm run build`. A missing compiler fails the build: without the
// launcher bin/cradle-runtime has nothing to run.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const srcDir = path.join(repo, 'src', 'oci-runtime', 'launcher');
const out = path.resolve(process.argv[2] ?? path.join(repo, 'dist', 'bin', 'cradle-runtime'));
const sources = fs.readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(srcDir, f));
fs.mkdirSync(path.dirname(out), { recursive: true });
const cc = process.env.CC || 'gcc';
// Static when libc.a is there: one program start less of dynamic loading per container.
const base = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', out, ...sources];
let r = spawnSync(cc, [...base, '-static'], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
if (r.error) {
  console.error(`build-launcher: cannot run ${cc}: ${r.error.message} (install gcc: the native launcher is part of the build)`);
  process.exit(1);
}
if (r.status !== 0 && /cannot find -lc|static/.test(r.stderr)) {
  r = spawnSync(cc, base, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
}
if (r.status !== 0) {
  process.stderr.write(r.stderr);
  console.error(`build-launcher: ${cc} failed (status ${r.status})`);
  process.exit(1);
}
console.log(`build-launcher: ${path.relative(repo, out)}`);
