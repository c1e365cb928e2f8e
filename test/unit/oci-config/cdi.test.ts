// CDI devices in the container spec: spec files as the reference library reads them
// (JSON and YAML, versions, unknown fields, conflicts, precedence), the names a
// container asks for, and the edits as they land in config.json.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildContainerSpec } from '../../../src/runtime/oci-config';
import { parseCdiSpec } from '../../../src/runtime/cdi/spec-file';
import { requestedCdiDevices, resolveCdiDevices, scanCdiSpecDirs } from '../../../src/runtime/cdi/registry';
import { isCradleError } from '../../../src/common/errors';
import { containerInput } from './fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-cdi-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function specDirs(files: Record<string, string>): string[] {
  const base = fs.mkdtempSync(path.join(tmp, 'dirs-'));
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(base, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return [path.join(base, 'etc-cdi'), path.join(base, 'run-cdi')];
}

const FAKE_YAML = `
cdiVersion: "0.7.0"
kind: cradle.test/fake
annotations:
  made-by: test
containerEdits:
  env: ["FAKE_SPEC=1"]
devices:
  - name: dev0
    containerEdits:
      env: ["FAKE_DEVICE=dev0", "PATH=/fake/bin"]
      deviceNodes:
        - path: /dev/fake0
          hostPath: /dev/null
      mounts:
        - hostPath: /tmp
          containerPath: /var/fake
          options: [ro, bind]
      hooks:
        - hookName: createContainer
          path: /usr/bin/true
          args: ["true", fake]
  - name: "1"
    containerEdits:
      deviceNodes:
        - path: /dev/fake1
          type: c
          major: 1
          minor: 5
          permissions: rw
      additionalGids: [0, 4242]
`;

describe('CDI spec files', () => {
  it('reads YAML and JSON with every field the current version has', () => {
    const spec = parseCdiSpec(FAKE_YAML, '/etc/cdi/fake.yaml');
    assert.equal(spec.kind, 'cradle.test/fake');
    assert.deepEqual(spec.devices.map((d) => d.name), ['dev0', '1']);
    assert.deepEqual(spec.devices[1]!.containerEdits.additionalGids, [0, 4242]);
    const json = parseCdiSpec(JSON.stringify({ cdiVersion: '1.1.0', kind: 'v.io/c', devices: [{ name: 'a', containerEdits: { netDevices: [{ hostInterfaceName: 'eth9', name: 'net0' }] } }] }), 'x.json');
    assert.equal(json.devices[0]!.containerEdits.netDevices![0]!.name, 'net0');
  });

  it('refuses what the reference refuses, naming the file and the field', () => {
    const bad: [string, RegExp][] = [
      ['cdiVersion: "9.9.9"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {}}]', /cdiVersion "9.9.9" is not one cradle reads/],
      ['cdiVersion: "0.3.0"\nkind: nokind\ndevices: [{name: x, containerEdits: {}}]', /invalid kind "nokind"/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: []', /at least one device/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {envs: []}}]', /devices\[0\].containerEdits: unknown field "envs"/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {env: ["NOEQUALS"]}}]', /invalid environment variable "NOEQUALS"/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {hooks: [{hookName: poststop, path: rel}]}}]', /not an absolute path/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {hooks: [{hookName: later, path: /x}]}}]', /invalid hook name "later"/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {deviceNodes: [{path: /dev/x, permissions: rwx}]}}]', /invalid "rwx"/],
      // annotations came with 0.6.0, host paths of device nodes with 0.5.0
      ['cdiVersion: "0.5.0"\nkind: a.b/c\nannotations: {k: v}\ndevices: [{name: x, containerEdits: {}}]', /too old for the fields used \(they need 0.6.0\)/],
      ['cdiVersion: "0.4.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {deviceNodes: [{path: /dev/x, hostPath: /dev/y}]}}]', /need 0.5.0/],
      ['cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: x, containerEdits: {}}, {name: x, containerEdits: {}}]', /device "x" defined twice/],
      ['{not yaml: [', /^\/etc\/cdi\/bad.yaml: /],
    ];
    for (const [text, re] of bad) {
      assert.throws(() => parseCdiSpec(text, '/etc/cdi/bad.yaml'), (err: Error) => re.test(err.message) && err.message.startsWith('/etc/cdi/bad.yaml'), text);
    }
  });
});

describe('CDI registry', () => {
  it('later directories win; two files of one directory defining a device is a conflict', () => {
    const one = (kindEnv: string, dev = 'd') => `cdiVersion: "0.3.0"\nkind: v.io/c\ndevices: [{name: ${dev}, containerEdits: {env: ["FROM=${kindEnv}"]}}]\n`;
    const dirs = specDirs({
      'etc-cdi/a.yaml': one('etc'),
      'run-cdi/b.yaml': one('run'),
      'etc-cdi/c1.yaml': one('c1', 'twin'),
      'etc-cdi/c2.json': JSON.stringify({ cdiVersion: '0.3.0', kind: 'v.io/c', devices: [{ name: 'twin', containerEdits: {} }] }),
      'etc-cdi/broken.yaml': 'cdiVersion: "0.3.0"\nkind: v.io/c\n',
      'etc-cdi/ignored.txt': 'not a spec',
    });
    const registry = scanCdiSpecDirs(dirs);
    assert.deepEqual(resolveCdiDevices(registry, ['v.io/c=d']), [{ env: ['FROM=run'] }]);
    assert.equal(registry.devices.has('v.io/c=twin'), false);
    assert.throws(() => resolveCdiDevices(registry, ['v.io/c=twin', 'v.io/c=none']), (err: Error) =>
      /^unresolvable CDI devices v\.io\/c=twin, v\.io\/c=none \(spec problems: /.test(err.message)
      && err.message.split('conflicting device "v.io/c=twin"').length === 2
      && /broken\.yaml: devices: a spec must define at least one device/.test(err.message));
  });

  it('takes names from the config and cdi.k8s.io/ annotations, each once, and checks their form', () => {
    assert.deepEqual(requestedCdiDevices(['a.io/x=1'], { 'cdi.k8s.io/z': 'b.io/y=2,a.io/x=1', 'cdi.k8s.io/a': 'c.io/w=3', other: 'x' }),
      ['a.io/x=1', 'c.io/w=3', 'b.io/y=2']);
    assert.throws(() => requestedCdiDevices(['gpu0'], {}), /"gpu0" is not a qualified CDI device name/);
    assert.throws(() => requestedCdiDevices([], { 'cdi.k8s.io/p': 'a.io/x=' }), /invalid device name ""/);
  });
});

describe('CDI edits in the container spec', () => {
  const dirs = specDirs({ 'etc-cdi/fake.yaml': FAKE_YAML });
  const build = (names: string[], annotations: Record<string, string> = {}, user?: { runAsUser: { value: string } }) => buildContainerSpec(containerInput({
    config: { CDIDevices: names.map((name) => ({ name })), annotations, envs: [{ key: 'PATH', value: '/usr/bin' }], ...(user ? { linux: { securityContext: user } } : {}) },
    runtime: { cdiSpecDirs: dirs },
  })).spec;

  it('applies spec and device edits: env, device nodes with host numbers, cgroup rules, mounts by depth, hooks, gids', () => {
    const spec = build(['cradle.test/fake=dev0', 'cradle.test/fake=1']);
    assert.ok(spec.process.env.includes('FAKE_SPEC=1') && spec.process.env.includes('FAKE_DEVICE=dev0'));
    assert.deepEqual(spec.process.env.filter((e) => e.startsWith('PATH=')), ['PATH=/fake/bin'], 'a CDI env entry replaces the variable');
    const fake0 = spec.linux.devices!.find((d) => d.path === '/dev/fake0')!;
    assert.deepEqual({ type: fake0.type, major: fake0.major, minor: fake0.minor }, { type: 'c', major: 1, minor: 3 }, 'numbers of the host node /dev/null');
    assert.ok(spec.linux.resources!.devices!.some((r) => r.allow && r.major === 1 && r.minor === 3 && r.access === 'rwm'));
    assert.ok(spec.linux.resources!.devices!.some((r) => r.allow && r.major === 1 && r.minor === 5 && r.access === 'rw'));
    const fakeMount = spec.mounts.find((m) => m.destination === '/var/fake')!;
    assert.deepEqual(fakeMount, { destination: '/var/fake', source: '/tmp', type: 'bind', options: ['ro', 'bind'] });
    const depths = spec.mounts.map((m) => m.destination.split('/').filter(Boolean).length);
    assert.deepEqual(depths, [...depths].sort((a, b) => a - b), 'mounts ordered by depth');
    assert.deepEqual(spec.hooks?.createContainer, [{ path: '/usr/bin/true', args: ['true', 'fake'] }]);
    const zeros = (gids: number[] | undefined) => (gids ?? []).filter((g) => g === 0).length;
    assert.ok(spec.process.user.additionalGids!.includes(4242));
    assert.equal(zeros(spec.process.user.additionalGids), zeros(build([]).process.user.additionalGids), 'gid 0 is never added');
    assert.equal(spec.process.env.filter((e) => e === 'FAKE_SPEC=1').length, 1, 'the spec\'s own edits once for two of its devices');
  });

  it('device nodes belong to the container user unless the spec says otherwise', () => {
    const spec = build(['cradle.test/fake=dev0'], {}, { runAsUser: { value: '1234' } });
    const fake0 = spec.linux.devices!.find((d) => d.path === '/dev/fake0')!;
    assert.equal(fake0.uid, 1234);
  });

  it('annotations name devices too; without a request nothing changes', () => {
    const spec = build([], { 'cdi.k8s.io/fake': 'cradle.test/fake=dev0' });
    assert.ok(spec.process.env.includes('FAKE_DEVICE=dev0'));
    const plain = build([]);
    assert.equal(plain.process.env.some((e) => e.startsWith('FAKE_')), false);
    assert.equal(plain.hooks, undefined);
  });

  it('an unknown device, or a host node that is missing, is INVALID_ARGUMENT naming it', () => {
    const check = (names: string[], re: RegExp) => assert.throws(() => build(names), (err: unknown) => isCradleError(err) && err.kind === 'invalid-argument' && re.test(err.message));
    check(['cradle.test/fake=nope'], /unresolvable CDI devices cradle\.test\/fake=nope/);
    const missing = specDirs({ 'etc-cdi/m.yaml': 'cdiVersion: "0.5.0"\nkind: m.io/c\ndevices: [{name: x, containerEdits: {deviceNodes: [{path: /dev/m, hostPath: /dev/cradle-no-such-node}]}}]\n' });
    assert.throws(() => buildContainerSpec(containerInput({ config: { CDIDevices: [{ name: 'm.io/c=x' }] }, runtime: { cdiSpecDirs: missing } })),
      (err: unknown) => isCradleError(err) && err.kind === 'invalid-argument' && /CDI device node \/dev\/m: host device \/dev\/cradle-no-such-node/.test(err.message));
  });
});
