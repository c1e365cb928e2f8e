// Configuration precedence and errors, SIGHUP reload, the socket's single owner,
// graceful shutdown and sd_notify, all against the real bin/cradled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import {
  baseArgs, makeTempDirs, runCradled, spawnCradled, startCradled, waitForSocket, canConnect, REPO_ROOT,
} from '../../helpers/daemon';
import { grpcError } from '../../helpers/cri-client';
import { pinnedNodePath } from '../../../src/common/pinned-node';
import { DatagramListener } from '../../helpers/datagram';

function configOutput(dirs: ReturnType<typeof makeTempDirs>, extra: string[] = []) {
  return runCradled(['config', '--config', dirs.configFile, '--config-dir', dirs.configDir, ...extra]);
}

test('config precedence: defaults < main file < drop-ins in lexical order < flags', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  fs.writeFileSync(dirs.configFile, '[image]\nmax_concurrent_downloads = 5\npause_image = "example.test/pause:1"\n[log]\nlevel = "warn"\n');
  fs.writeFileSync(path.join(dirs.configDir, '20-b.toml'), '[image]\nmax_concurrent_downloads = 7\n');
  fs.writeFileSync(path.join(dirs.configDir, '10-a.toml'), '[image]\nmax_concurrent_downloads = 6\n[log]\nlevel = "error"\n');
  fs.writeFileSync(path.join(dirs.configDir, 'ignored.conf'), 'this is not toml and is not read');

  const r = await configOutput(dirs);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^max_concurrent_downloads = 7$/m, '20-b.toml is read after 10-a.toml and wins');
  assert.match(r.stdout, /^pause_image = "example.test\/pause:1"$/m, 'main-file value kept where no drop-in sets it');
  assert.match(r.stdout, /^level = "error"$/m);
  assert.match(r.stdout, /^# pull_progress_timeout = "1m"$/m, 'defaults where nothing sets a key, commented out');
  assert.match(r.stdout, new RegExp(`Read from: ${dirs.configFile}, ${dirs.configDir}/10-a.toml, ${dirs.configDir}/20-b.toml`));

  const withFlag = await configOutput(dirs, ['--image-max-concurrent-downloads', '9', '--log-level=debug']);
  assert.equal(withFlag.code, 0, withFlag.stderr);
  assert.match(withFlag.stdout, /^max_concurrent_downloads = 9$/m);
  assert.match(withFlag.stdout, /^level = "debug"$/m);
});

test('`cradled config` output is valid commented TOML that cradled accepts back', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  fs.writeFileSync(dirs.configFile, '');
  const first = await configOutput(dirs, ['--metrics-enable', '--streaming-idle-timeout=90m']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^# /m);
  fs.writeFileSync(dirs.configFile, first.stdout);
  const second = await configOutput(dirs);
  assert.equal(second.code, 0, second.stderr);
  const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('# Read from')).join('\n');
  assert.equal(strip(second.stdout), strip(first.stdout));
  assert.match(second.stdout, /^idle_timeout = "1h30m"$/m);
});

test('bad config stops cradled with the file, the key and the expected type', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  const cases: [string, string, RegExp][] = [
    ['[image]\nmax_concurrent_downloads = "three"\n', 'cradle.toml', /cradle\.toml: image\.max_concurrent_downloads: expected an integer, got the string "three"/],
    ['[image]\nno_such_key = 1\n', 'cradle.toml', /cradle\.toml: image\.no_such_key: unknown key/],
    ['[nosuchtable]\nx = 1\n', 'cradle.toml', /cradle\.toml: nosuchtable: unknown table/],
    ['[log]\nlevel = "loud"\n', 'cradle.toml', /log\.level: expected one of "trace", "debug"/],
    ['[api]\nlisten = "tcp://0.0.0.0:1"\n', 'cradle.toml', /api\.listen: must be a unix:\/\/\/absolute\/path URL/],
    ['[runtime]\ndefault_runtime = "kata"\n', 'cradle.toml', /runtime\.default_runtime: "kata" is not a configured handler/],
    ['[image\n', 'cradle.toml', /cradle\.toml:1:7: \(syntax\): /],
  ];
  for (const [content, , pattern] of cases) {
    fs.writeFileSync(dirs.configFile, content);
    const r = await runCradled(baseArgs(dirs));
    assert.equal(r.code, 1, `cradled accepted ${JSON.stringify(content)}`);
    assert.match(r.stderr, pattern);
    assert.ok(!fs.existsSync(dirs.socket), 'no socket left behind');
  }
  // a bad drop-in is named as such
  fs.writeFileSync(dirs.configFile, '');
  fs.writeFileSync(path.join(dirs.configDir, '30-bad.toml'), '[metrics]\nport = 70000\n');
  const r = await runCradled(baseArgs(dirs));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /30-bad\.toml: metrics\.port: must be at most 65535, got 70000/);
});

test('invalid flags are usage errors (exit 2); --help documents every flag', async () => {
  const unknown = await runCradled(['--no-such-flag']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown flag --no-such-flag/);
  const missing = await runCradled(['--log-level']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--log-level needs a value/);
  const badValue = await runCradled(['config', '--image-max-concurrent-downloads', 'lots']);
  assert.equal(badValue.code, 1);
  assert.match(badValue.stderr, /command line: --image-max-concurrent-downloads: expected an integer/);

  const help = await runCradled(['--help']);
  assert.equal(help.code, 0);
  const cfg = await runCradled(['config', '--config', '/nonexistent-but-default-is-fine', '--config-dir', '/nonexistent']);
  assert.equal(cfg.code, 1, 'an explicit --config that does not exist is an error');
  // every key printed by `cradled config` has a documented flag
  const all = await runCradled(['config', '--config-dir', '/nonexistent']);
  let table = '';
  for (const line of all.stdout.split('\n')) {
    const header = /^\[([a-z]+)\]$/.exec(line);
    if (header) table = header[1]!;
    if (line.startsWith('[runtime.runtimes.')) table = 'runtime-runtimes-<name>';
    const key = /^(?:# )?([a-z_]+) = /.exec(line);
    if (key && table) assert.ok(help.stdout.includes(`--${table}-${key[1]!.replace(/_/g, '-')} `), `flag for ${table}.${key[1]} in --help`);
  }
});

test('runtime handler tables are flags too: --runtime-runtimes-<name>-<key> adds or changes a handler', async () => {
  const added = await runCradled(['config', '--config-dir', '/nonexistent', '--runtime-runtimes-kata-qemu-runtime-path', '/usr/bin/kata-runtime',
    '--runtime-runtimes-cradle-monitor-path=/usr/local/bin/conmon']);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^\[runtime\.runtimes\.kata-qemu\]\n(?:.*\n)*?runtime_path = "\/usr\/bin\/kata-runtime"$/m);
  assert.match(added.stdout, /^\[runtime\.runtimes\.cradle\]\n(?:.*\n)*?monitor_path = "\/usr\/local\/bin\/conmon"$/m);
  const badName = await runCradled(['config', '--runtime-runtimes-Kata-runtime-path', '/x']);
  assert.equal(badName.code, 1);
  assert.match(badName.stderr, /runtime\.runtimes\.Kata: a runtime handler name must be a DNS label/);
  const badKey = await runCradled(['config', '--runtime-runtimes-kata-binary', '/x']);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /unknown flag --runtime-runtimes-kata-binary/);
});

test('SIGHUP reloads the log level live; a broken file on reload keeps the old config', async (t) => {
  const daemon = await startCradled();
  t.after(() => daemon.stop());
  const cri = daemon.client();
  await cri.runtime.Version({});
  assert.ok(!daemon.logRecords().some((r) => r.msg === 'call finished'), 'info level: no per-call lines');

  fs.writeFileSync(path.join(daemon.dirs.configDir, '90-debug.toml'), '[log]\nlevel = "debug"\n');
  daemon.proc.kill('SIGHUP');
  await waitFor(() => daemon.logRecords().some((r) => r.msg === 'configuration reloaded' && (r.applied as string[]).includes('log.level')));
  await cri.runtime.Version({});
  const line = daemon.logRecords().find((r) => r.msg === 'call finished' && r.rpc === 'Version');
  assert.ok(line, 'debug line per call after reload');
  assert.equal(line.code, 'OK');
  assert.equal(typeof line.durationMs, 'number');
  assert.match(String(line.requestId), /^[0-9a-f]{16}$/);

  fs.writeFileSync(path.join(daemon.dirs.configDir, '91-broken.toml'), '[log]\nlevel = 5\n');
  daemon.proc.kill('SIGHUP');
  await waitFor(() => daemon.logRecords().some((r) => r.msg === 'config reload failed; keeping the current configuration'));
  const before = daemon.logRecords().filter((r) => r.msg === 'call finished').length;
  await cri.runtime.Version({});
  assert.equal(daemon.logRecords().filter((r) => r.msg === 'call finished').length, before + 1, 'still at debug');
});

test('a live cradled keeps its socket: a second one exits with a clear error', async (t) => {
  const first = await startCradled();
  t.after(() => first.stop());
  const second = await runCradled([...baseArgs(first.dirs)]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /another cradled is already serving .*cradle\.sock/);
  // the first one is unharmed
  const v = await first.client().runtime.Version({});
  assert.equal(v.runtimeName, 'cradle');
});

test('a streaming port already taken stops cradled with the error, and its CRI socket is gone again', async (t) => {
  const dirs = makeTempDirs();
  t.after(() => fs.rmSync(dirs.dir, { recursive: true, force: true }));
  fs.writeFileSync(dirs.configFile, '');
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  // The streaming server binds right after the CRI socket serves; failing there still fails the start.
  const run = await runCradled([...baseArgs(dirs), '--streaming-port', String(port)]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`streaming server: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  assert.equal(fs.existsSync(dirs.socket), false, 'the CRI socket was removed');
});

test('a stale socket left by a killed daemon is replaced', async (t) => {
  const dirs = makeTempDirs();
  fs.mkdirSync(path.dirname(dirs.socket), { recursive: true });
  // A process that binds the socket and dies without unlinking it.
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(dirs.socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    p.on('exit', () => resolve());
    p.on('error', reject);
  });
  assert.ok(fs.lstatSync(dirs.socket).isSocket(), 'stale socket present');
  assert.equal(await canConnect(dirs.socket), false);
  const daemon = spawnCradled(dirs);
  t.after(() => daemon.stop());
  await waitForSocket(daemon);
  assert.equal((await daemon.client().runtime.Version({})).runtimeName, 'cradle');
});

test('SIGTERM finishes in-flight calls, refuses new ones, removes the socket and exits 0', async (t) => {
  // The call is held for long enough that the shutdown surely starts while it is in flight.
  const daemon = await startCradled({ env: { CRADLE_TEST_HOOKS: JSON.stringify({ delayMs: { Version: 5000 } }) } });
  t.after(() => daemon.stop());
  const cri = daemon.client();
  const inFlight = cri.runtime.Version({});
  await waitFor(() => daemon.logRecords().some((r) => r.msg === 'test hook: holding the call'), 30_000);
  daemon.proc.kill('SIGTERM');
  await waitFor(() => daemon.logRecords().some((r) => r.msg === 'shutting down: no new calls, finishing in-flight ones'));
  assert.equal((await inFlight).runtimeName, 'cradle', 'in-flight call completed');
  const exit = await daemon.waitExit();
  assert.equal(exit.code, 0);
  assert.ok(!fs.existsSync(daemon.socket), 'socket removed');
  await assert.rejects(cri.runtime.Version({}, { timeoutMs: 2000 }), (err) => {
    assert.ok([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(grpcError(err).code));
    return true;
  });
});

test('sd_notify: READY=1 is sent to $NOTIFY_SOCKET once the socket serves', async (t) => {
  const dirs = makeTempDirs();
  const listener = new DatagramListener(path.join(dirs.dir, 'notify.sock'));
  t.after(() => listener.close());
  const daemon = spawnCradled(dirs, { env: { NOTIFY_SOCKET: listener.path } });
  t.after(() => daemon.stop());
  const message = await listener.receive(20_000);
  assert.equal(message, 'READY=1');
  assert.ok(await canConnect(daemon.socket), 'socket accepts calls when READY=1 arrives');
});

test('cradled runs on the pinned Node LTS and does not keep NODE_EXTRA_CA_CERTS', async (t) => {
  const version = await runCradled(['version']);
  assert.match(version.stdout, /^NodeVersion: +v24\./m);
  const daemon = await startCradled({ env: { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', NODE_OPTIONS: '--max-old-space-size=4096' } });
  t.after(() => daemon.stop());
  const environ = fs.readFileSync(`/proc/${daemon.proc.pid}/environ`, 'utf8').split('\0');
  assert.ok(!environ.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')));
  assert.ok(!environ.some((e) => e.startsWith('NODE_OPTIONS=')));
  const exe = fs.readlinkSync(`/proc/${daemon.proc.pid}/exe`);
  assert.equal(exe, fs.realpathSync(pinnedNodePath(REPO_ROOT)));
});

async function waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
