// SIGHUP reloads what cri-o reloads, against a real cradled with pods: runtime
// handler tables (a new one serves new pods at once; a removed one is refused for
// new pods while its pods keep working), pinned images, the RuntimeDefault seccomp
// profile; the log names what changed and what needs a restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PodFixture } from '../../helpers/pod-fixture';
import { grpcError } from '../../helpers/cri-client';

const f = new PodFixture('cradle-thu0', '10.246.0.0/24');
const DROP_IN = '60-reload.toml';

/** Writes the drop-in, sends SIGHUP and returns the reload's log record. */
async function reloadWith(toml: string): Promise<Record<string, unknown>> {
  const done = (): Record<string, unknown>[] => f.daemon.logRecords()
    .filter((r) => r.msg === 'configuration reloaded' || r.msg === 'config reload refused; keeping the current configuration'
      || r.msg === 'config reload failed; keeping the current configuration');
  const before = done().length;
  fs.writeFileSync(path.join(f.dirs.configDir, DROP_IN), toml);
  f.daemon.proc.kill('SIGHUP');
  const deadline = Date.now() + 30_000;
  while (done().length === before) {
    if (Date.now() > deadline) throw new Error('no reload logged');
    await new Promise((r) => setTimeout(r, 25));
  }
  return done()[before]!;
}

async function handlerNames(): Promise<string[]> {
  return (await f.cri.runtime.Status({})).runtimeHandlers.map((h) => h.name);
}

describe('SIGHUP reload', () => {
  before(() => f.start());
  after(async () => {
    await f.stop();
  });

  it('a new handler serves new pods at once; once removed it is refused for new pods and its pod still works', async () => {
    const added = await reloadWith('[runtime.runtimes.extra]\n');
    assert.deepEqual(added.handlersAdded, ['extra']);
    assert.ok((await handlerNames()).includes('extra'));
    const config = f.podConfig('reload-extra');
    const { podSandboxId } = await f.cri.runtime.RunPodSandbox({ config, runtimeHandler: 'extra' });
    assert.equal((await f.cri.runtime.PodSandboxStatus({ podSandboxId })).status!.runtimeHandler, 'extra');

    const removed = await reloadWith('');
    assert.deepEqual(removed.handlersRemoved, ['extra']);
    assert.ok(!(await handlerNames()).includes('extra'));
    const refused = grpcError(await f.cri.runtime.RunPodSandbox({ config: f.podConfig('reload-refused'), runtimeHandler: 'extra' }).then(() => undefined, (err: unknown) => err));
    assert.equal(refused.code, 3 /* INVALID_ARGUMENT */);
    assert.match(refused.details, /runtime handler "extra" was removed from the configuration/);

    // The pod made with it keeps working: a container runs, and it stops and goes away.
    const ctr = await f.runContainer({ id: podSandboxId, config }, f.containerConfig('in-extra', ['sleep', '1000']));
    const r = await f.cri.runtime.ExecSync({ containerId: ctr, cmd: ['echo', 'still here'], timeout: 10 });
    assert.equal(r.stdout.toString(), 'still here\n');
    await f.cri.runtime.StopPodSandbox({ podSandboxId });
    await f.cri.runtime.RemovePodSandbox({ podSandboxId });
  });

  it('pinned_images changes which images ListImages reports pinned', async () => {
    const pinned = async (): Promise<boolean> => (await f.cri.image.ListImages({})).images
      .find((i) => i.repoTags.includes(f.busybox.reference))!.pinned;
    assert.equal(await pinned(), false);
    const log = await reloadWith(`[image]\npinned_images = [${JSON.stringify(f.busybox.reference)}]\n`);
    assert.deepEqual(log.applied, ['image.pinned_images']);
    assert.equal(await pinned(), true);
    await reloadWith('');
    assert.equal(await pinned(), false);
  });

  it('seccomp_profile replaces what RuntimeDefault means for new containers; an unreadable one is refused', async () => {
    const profile = path.join(f.dirs.dir, 'no-mkdir.json');
    fs.writeFileSync(profile, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
    }));
    const pod = await f.runPod('reload-seccomp');
    const confined = (name: string) => f.containerConfig(name, ['sleep', '1000'], {
      linux: { securityContext: { seccomp: { profileType: 'RuntimeDefault' } } },
    });
    const mkdir = async (id: string): Promise<number> =>
      (await f.cri.runtime.ExecSync({ containerId: id, cmd: ['mkdir', '/tmp/made'], timeout: 10 })).exitCode;

    const before = await f.runContainer(pod, confined('before'));
    assert.equal(await mkdir(before), 0, 'the built-in profile allows mkdir');

    const log = await reloadWith(`[runtime]\nseccomp_profile = ${JSON.stringify(profile)}\n`);
    assert.deepEqual(log.applied, ['runtime.seccomp_profile']);
    const after = await f.runContainer(pod, confined('after'));
    assert.notEqual(await mkdir(after), 0, 'the reloaded profile refuses mkdir');

    const refused = await reloadWith(`[runtime]\nseccomp_profile = ${JSON.stringify(path.join(f.dirs.dir, 'missing.json'))}\n`);
    assert.equal(refused.msg, 'config reload refused; keeping the current configuration');
    const still = await f.runContainer(pod, confined('still'));
    assert.notEqual(await mkdir(still), 0, 'the last good profile stays');
    await reloadWith('');
  });

  it('[log] filter drops log messages that do not match it, from the reload on; an invalid expression is refused', async () => {
    const restartWarnings = () => f.daemon.logRecords().filter((r) => r.msg === 'these configuration changes take effect after a restart').length;
    await reloadWith('[log]\nfilter = "^configuration reloaded$"\n');
    const before = restartWarnings();
    const filtered = await reloadWith('[log]\nfilter = "^configuration reloaded$"\n[streaming]\nidle_timeout = "1m"\n');
    assert.equal(filtered.msg, 'configuration reloaded');
    assert.equal(restartWarnings(), before, 'the restart warning is filtered out');
    await reloadWith('[streaming]\nidle_timeout = "1m"\n');
    assert.equal(restartWarnings(), before + 1, 'without a filter the warning is written again');
    const bad = await reloadWith('[log]\nfilter = "("\n');
    assert.equal(bad.msg, 'config reload failed; keeping the current configuration');
    assert.match(String(bad.error), /log\.filter.*not a regular expression/);
    await reloadWith('');
  });

  it('keys that need a restart are named in the log and keep their running value', async () => {
    const log = await reloadWith('[streaming]\nidle_timeout = "1m"\n[runtime]\nlog_size_max = 65536\n');
    const warned = f.daemon.logRecords().filter((r) => r.msg === 'these configuration changes take effect after a restart').at(-1)!;
    assert.deepEqual((warned.keys as string[]).sort(), ['runtime.log_size_max', 'streaming.idle_timeout']);
    assert.deepEqual(log.applied, []);
    const config = JSON.parse((await f.cri.runtime.Status({ verbose: true })).info.config!) as { streaming: { idle_timeout: string } };
    assert.equal(config.streaming.idle_timeout, '4h');
    await reloadWith('');
  });
});
