#!/usr/bin/env node
'use strict';
// Generates TypeScript types for the CRI proto into src/generated/ (git-ignored).
// The loader options here must match src/cri-server/proto.ts (PROTO_LOADER_OPTIONS),
// because proto-loader-gen-types shapes the types after them.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'src', 'generated');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const bin = path.join(root, 'node_modules', '@grpc', 'proto-loader', 'build', 'bin', 'proto-loader-gen-types.js');
execFileSync(process.execPath, [
  bin,
  path.join(root, 'proto', 'cri', 'api.proto'),
  '--longs=String',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--grpcLib=@grpc/grpc-js',
  '--outDir', out,
  `--includeDirs=${path.join(root, 'proto', 'cri')}`,
], { stdio: ['ignore', 'ignore', 'inherit'] });
