// A tiny fake CNI plugin for unit tests only: a Node script whose behaviour per verb
// comes from the `fake` key of its own plugin config, and which logs every
// invocation (verb, CNI_* env, stdin) to the file named by `fakeLog`.
import * as fs from 'node:fs';
import * as path from 'node:path';

const SCRIPT = `
const fs = require('fs');
const path = require('path');
const type = path.basename(process.argv[1]);
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
const cmd = process.env.CNI_COMMAND;
const env = {};
for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH']) env[k] = process.env[k];
if (conf.fakeLog) fs.appendFileSync(conf.fakeLog, JSON.stringify({ type, command: cmd, env, conf, nodeEnv: Object.keys(process.env).filter((k) => k.startsWith('NODE_')) }) + '\\n');
const b = (conf.fake || {})[cmd] || {};
if (b.sleepMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, b.sleepMs);
if (b.error) { process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, ...b.error })); process.exit(b.exit || 1); }
if (b.stderr) process.stderr.write(b.stderr);
if (b.raw !== undefined) { process.stdout.write(b.raw); process.exit(b.exit || 0); }
if (cmd === 'ADD') {
  let result = b.result || conf.prevResult;
  if (!result) {
    const legacy = !conf.cniVersion.startsWith('1.');
    result = { cniVersion: conf.cniVersion,
      interfaces: [{ name: 'br0' }, { name: process.env.CNI_IFNAME, sandbox: process.env.CNI_NETNS }],
      ips: [{ ...(legacy ? { version: '4' } : {}), address: '10.1.2.3/24', gateway: '10.1.2.1', interface: 1 }], routes: [], dns: {} };
  }
  process.stdout.write(JSON.stringify(result));
}
process.exit(b.exit || 0);
`;

export function writeFakePlugins(dir: string, names: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of names) {
    fs.writeFileSync(path.join(dir, name), `#!${process.execPath}\n${SCRIPT}`, { mode: 0o755 });
  }
}

export interface FakeCall {
  type: string;
  command: string;
  env: Record<string, string | undefined>;
  conf: Record<string, unknown>;
  nodeEnv: string[];
}

export function readCalls(logFile: string): FakeCall[] {
  if (!fs.existsSync(logFile)) return [];
  return fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l) as FakeCall);
}
