import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from '../../../src/common/errors';
import { DEFAULT_PATH, mergeArgs, mergeEnv, resolveCwd } from '../../../src/runtime/oci-config/process-args';
import { buildContainerSpec, buildExecProcess } from '../../../src/runtime/oci-config/build';
import { containerInput } from './fixtures';

const ARGS_CASES: { name: string; command: string[]; args: string[]; entrypoint: string[] | null; cmd: string[] | null; want: string[] }[] = [
  { name: 'image only: entrypoint + cmd', command: [], args: [], entrypoint: ['/docker-entrypoint.sh'], cmd: ['nginx', '-g', 'daemon off;'], want: ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;'] },
  { name: 'image cmd only', command: [], args: [], entrypoint: null, cmd: ['/bin/sh'], want: ['/bin/sh'] },
  { name: 'image entrypoint only', command: [], args: [], entrypoint: ['/pause'], cmd: null, want: ['/pause'] },
  { name: 'command replaces entrypoint and drops image cmd', command: ['/bin/echo'], args: [], entrypoint: ['/entry'], cmd: ['default-arg'], want: ['/bin/echo'] },
  { name: 'args replace cmd, entrypoint kept', command: [], args: ['--port', '80'], entrypoint: ['/server'], cmd: ['--port', '8080'], want: ['/server', '--port', '80'] },
  { name: 'args without any entrypoint', command: [], args: ['/bin/date'], entrypoint: null, cmd: ['/bin/sh'], want: ['/bin/date'] },
  { name: 'command and args', command: ['/bin/sh', '-c'], args: ['echo hi'], entrypoint: ['/entry'], cmd: ['x'], want: ['/bin/sh', '-c', 'echo hi'] },
  { name: 'empty image arrays', command: ['/x'], args: [], entrypoint: [], cmd: [], want: ['/x'] },
];

for (const c of ARGS_CASES) {
  test(`args: ${c.name}`, () => {
    assert.deepEqual(mergeArgs(c.command, c.args, c.entrypoint, c.cmd), c.want);
  });
}

test('args: nothing to run is INVALID_ARGUMENT on config.command', () => {
  for (const [entry, cmd] of [[null, null], [[], []], [[''], null]] as const) {
    assert.throws(() => mergeArgs([], [], entry, cmd), (err: unknown) => {
      assert.ok(errors.invalidField.is(err));
      assert.equal(err.kind, 'invalid-argument');
      assert.match(err.message, /^config\.command: no command specified/);
      return true;
    });
  }
});

const kv = (key: string, value: string) => ({ key, value: Buffer.from(value) });

const ENV_CASES: { name: string; image: string[] | null; cri: { key: string; value: Buffer }[]; extras?: Parameters<typeof mergeEnv>[2]; want: string[] }[] = [
  { name: 'no env anywhere gets default PATH', image: null, cri: [], want: [DEFAULT_PATH] },
  { name: 'image PATH kept', image: ['PATH=/opt/bin', 'A=1'], cri: [], want: ['PATH=/opt/bin', 'A=1'] },
  { name: 'CRI overrides image in place, appends new', image: ['PATH=/opt/bin', 'A=1', 'B=2'], cri: [kv('A', 'cri'), kv('C', '3')], want: ['PATH=/opt/bin', 'A=cri', 'B=2', 'C=3'] },
  { name: 'CRI sets PATH', image: ['PATH=/opt/bin'], cri: [kv('PATH', '/x')], want: ['PATH=/x'] },
  { name: 'values keep = and spaces', image: [], cri: [kv('Q', 'a=b c')], want: ['Q=a=b c', DEFAULT_PATH] },
  { name: 'empty value is kept', image: ['E=1'], cri: [kv('E', '')], want: ['E=', DEFAULT_PATH] },
  { name: 'image entry without = kept', image: ['FLAG'], cri: [], want: ['FLAG', DEFAULT_PATH] },
  { name: 'last duplicate in CRI wins', image: [], cri: [kv('D', '1'), kv('D', '2')], want: ['D=2', DEFAULT_PATH] },
  { name: 'HOSTNAME/HOME/TERM added', image: ['PATH=/b'], cri: [], extras: { hostname: 'h', home: '/root', tty: true }, want: ['PATH=/b', 'TERM=xterm', 'HOSTNAME=h', 'HOME=/root'] },
  { name: 'HOME from CRI not replaced', image: [], cri: [kv('HOME', '/data')], extras: { home: '/root' }, want: ['HOME=/data', DEFAULT_PATH] },
  { name: 'no TERM without tty', image: ['PATH=/b'], cri: [], extras: { tty: false }, want: ['PATH=/b'] },
];

for (const c of ENV_CASES) {
  test(`env: ${c.name}`, () => {
    assert.deepEqual(mergeEnv(c.image, c.cri, c.extras), c.want);
  });
}

test('env: invalid CRI key names the field', () => {
  assert.throws(() => mergeEnv([], [kv('A', '1'), kv('B=C', '2')]), /config\.envs\[1\]\.key/);
  assert.throws(() => mergeEnv([], [kv('', '2')]), /config\.envs\[0\]\.key/);
});

test('cwd: CRI, then image, then /', () => {
  assert.equal(resolveCwd('/work', '/image'), '/work');
  assert.equal(resolveCwd('', '/image/'), '/image/');
  assert.equal(resolveCwd('', 'relative/dir'), '/relative/dir');
  assert.equal(resolveCwd('', undefined), '/');
  assert.equal(resolveCwd('/a/../b', undefined), '/b');
  assert.throws(() => resolveCwd('relative', undefined), /config\.workingDir/);
});

test('full spec: args, env and cwd from image and request', () => {
  const { spec } = buildContainerSpec(containerInput({
    config: { command: ['/bin/sh', '-c'], args: ['env'], envs: [{ key: 'FOO', value: Buffer.from('bar') }], workingDir: '/tmp' },
    image: { Entrypoint: ['/ignored'], Cmd: ['ignored'], Env: ['PATH=/usr/bin:/bin', 'FOO=image'], WorkingDir: '/srv' },
  }));
  assert.deepEqual(spec.process.args, ['/bin/sh', '-c', 'env']);
  assert.deepEqual(spec.process.env, ['PATH=/usr/bin:/bin', 'FOO=bar', 'HOSTNAME=web-0', 'HOME=/root']);
  assert.equal(spec.process.cwd, '/tmp');
  assert.equal(spec.process.terminal, false);
});

test('full spec: tty sets terminal and TERM', () => {
  const { spec } = buildContainerSpec(containerInput({ config: { tty: true, stdin: true } }));
  assert.equal(spec.process.terminal, true);
  assert.ok(spec.process.env.includes('TERM=xterm'));
});

test('exec process: container process with the command and terminal replaced', () => {
  const { spec } = buildContainerSpec(containerInput({ config: { tty: true } }));
  const p = buildExecProcess(spec.process, ['/bin/ls', '-l'], false);
  assert.deepEqual(p.args, ['/bin/ls', '-l']);
  assert.equal(p.terminal, false);
  assert.ok(!p.env.some((e) => e.startsWith('TERM=')));
  assert.deepEqual(p.user, spec.process.user);
  assert.deepEqual(p.capabilities, spec.process.capabilities);
  assert.equal(buildExecProcess(spec.process, ['sh'], true).env.filter((e) => e === 'TERM=xterm').length, 1);
  assert.deepEqual(spec.process.args, ['/bin/sh'], 'the container process is not modified');
  assert.throws(() => buildExecProcess(spec.process, [], false), /^CradleError: cmd: no command to execute/);
});
