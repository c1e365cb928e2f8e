// Mount propagation between the host and a container, as the CRI asks for it:
// a bind mount of a host directory with rprivate, rslave or rshared, and
// linux.rootfsPropagation set as cradle's CRI layer sets it (unset, rslave, rshared).
// Each mode is checked both ways (a host mount seen in the container, a container
// mount seen on the host), as critest's "Container Mount Propagation" specs do, and
// compared with runc on the same bundle (differential test).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { TestContainer, isRoot, sweepStale, type Runtime } from './harness';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

type Mode = 'rprivate' | 'rslave' | 'rshared';

/** Where the volume appears in the container. */
const VOLUME = '/vol';

interface Seen {
  /** The host mounted a directory inside the volume after the container started: the container sees its file. */
  hostToContainer: boolean;
  /** The container bind-mounted its /etc inside the volume: the host sees it. */
  containerToHost: boolean;
}

function mount(...args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function propagation(runtime: Runtime, mode: Mode): Promise<Seen> {
  return withVolumeContainer(runtime, mode, false, async (ctr, volume) => {
    mount('--bind', path.join(ctr.dir, 'host-source'), path.join(volume, 'from-host'));
    const listed = ctr.cli(['exec', ctr.id, 'ls', '-A', `${VOLUME}/from-host`]);
    assert.equal(listed.status, 0, `${runtime} exec ls: ${listed.stderr}`);
    const mounted = ctr.cli(['exec', ctr.id, 'sh', '-c', `mkdir -p ${VOLUME}/from-container && mount --bind /etc ${VOLUME}/from-container`]);
    assert.equal(mounted.status, 0, `${runtime} exec mount: ${mounted.stderr}`);
    return {
      hostToContainer: listed.stdout.trim() === 'flag',
      containerToHost: fs.readdirSync(path.join(volume, 'from-container')).includes('passwd'),
    };
  });
}

/**
 * Runs `check` on a started container (sleep 1000, CAP_SYS_ADMIN) whose /vol is the
 * host directory `volume` bind-mounted with the mode; the host's `volume` is itself
 * a bind mount, shared unless the mode is rprivate (as critest prepares it). With
 * hostMountFirst, host-source is mounted on volume/from-host before create.
 */
async function withVolumeContainer<T>(runtime: Runtime, mode: Mode, hostMountFirst: boolean,
  check: (ctr: TestContainer, volume: string) => Promise<T>): Promise<T> {
  const ctr = new TestContainer(runtime, `prop-${mode.slice(1)}`, ['sleep', '1000']);
  const volume = path.join(ctr.dir, 'volume');
  const hostSource = path.join(ctr.dir, 'host-source');
  fs.mkdirSync(path.join(volume, 'from-host'), { recursive: true });
  fs.mkdirSync(hostSource);
  fs.writeFileSync(path.join(hostSource, 'flag'), '');
  let volumeMounted = false;
  try {
    mount('--rbind', volume, volume);
    volumeMounted = true;
    mount(mode === 'rprivate' ? '--make-rprivate' : '--make-rshared', volume);
    if (hostMountFirst) mount('--bind', hostSource, path.join(volume, 'from-host'));

    const caps = [...ctr.spec.process!.capabilities!.bounding!, 'CAP_SYS_ADMIN'];
    ctr.spec.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
    if (mode !== 'rprivate') ctr.spec.linux!.rootfsPropagation = mode;
    ctr.spec.mounts!.push({ destination: VOLUME, type: 'bind', source: volume, options: ['rbind', mode, 'rw'] });
    ctr.writeSpec();
    const created = ctr.create();
    assert.equal(created.status, 0, `${runtime} create (${mode}): ${created.stderr}`);
    assert.equal(ctr.cli(['start', ctr.id]).status, 0);
    return await check(ctr, volume);
  } finally {
    ctr.cli(['delete', '--force', ctr.id]);
    // A lazy unmount detaches the volume with everything mounted in it (also what the container propagated).
    if (volumeMounted) execFileSync('umount', ['--lazy', volume]);
    ctr.cleanup();
  }
}

const EXPECTED: Record<Mode, Seen> = {
  rprivate: { hostToContainer: false, containerToHost: false },
  rslave: { hostToContainer: true, containerToHost: false },
  rshared: { hostToContainer: true, containerToHost: true },
};

for (const mode of ['rprivate', 'rslave', 'rshared'] as const) {
  test(`${mode} volume: host and container mounts propagate as runc propagates them`, { skip }, async () => {
    const ours = await propagation('cradle', mode);
    assert.deepEqual(ours, EXPECTED[mode]);
    assert.deepEqual(await propagation('runc', mode), ours);
  });
}

test('starting a container with an rshared volume leaves the host\'s mounts under it in place', { skip }, async () => {
  // The init detaches the host's tree it started from; were those unmounts to reach
  // the host (a shared old root), the host would lose what is mounted in the volume.
  for (const runtime of ['cradle', 'runc'] as const) {
    const seen = await withVolumeContainer(runtime, 'rshared', true, async (ctr, volume) => ({
      container: ctr.cli(['exec', ctr.id, 'ls', '-A', `${VOLUME}/from-host`]).stdout.trim(),
      host: fs.readdirSync(path.join(volume, 'from-host')).join(' '),
    }));
    assert.deepEqual(seen, { container: 'flag', host: 'flag' }, runtime);
  }
});
