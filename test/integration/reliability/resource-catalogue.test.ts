// The resource catalogue (src/runtime/resources.ts): for every kind, the three
// cleanup paths (a failed create's undo, remove(), and `cradled check --repair`,
// which is also cradled's start-up reclaim) leave the same empty state, and each
// release can run twice. Real resources: directories, a tmpfs /dev/shm, overlay-like
// and namespace bind mounts in a temp state layout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StateLayout, PINNABLE_KINDS } from '../../../src/common/state-layout';
import { UndoStack } from '../../../src/common/undo';
import { defaultConfig } from '../../../src/config/schema';
import { checkNode } from '../../../src/daemon/check';
import { mount, umount2 } from '../../../src/sys/libc';
import { MNT_DETACH, MS_BIND } from '../../../src/sys/constants';
import {
  CONTAINER_RESOURCES, POD_RESOURCES, RESOURCE_KINDS, containerDataDir, namespacePins, pausePersistDir, podRunDir, releaseAll, socketLink,
  type ResourceKind,
} from '../../../src/runtime/resources';
import { mountPointsUnder } from '../../helpers/daemon';

const ID = 'c0ffee';

/**
 * What the test mounts as a root filesystem: a small dir of its own, not the shared
 * /tmp, whose contents other processes change while the snapshot walks it.
 */
function lowerDir(layout: StateLayout): string {
  const lower = path.join(path.dirname(layout.root), 'lower');
  fs.mkdirSync(lower, { recursive: true });
  fs.writeFileSync(path.join(lower, 'file'), 'x\n');
  return lower;
}

/** Makes the resource of `kind` for ID as create does (mounts included). */
function acquire(layout: StateLayout, kind: ResourceKind): void {
  if (kind === podRunDir) {
    podRunDir.acquire(layout, ID, false);
    // The pause bundle's root filesystem, mounted as the overlay is.
    fs.mkdirSync(layout.pauseRootfs(ID), { recursive: true });
    mount(lowerDir(layout), layout.pauseRootfs(ID), null, MS_BIND);
    for (const file of Object.values(layout.podFiles(ID))) fs.writeFileSync(file, 'x\n');
  } else if (kind === namespacePins) {
    for (const ns of PINNABLE_KINDS) {
      fs.mkdirSync(layout.namespacePinDir(ns), { recursive: true });
      fs.writeFileSync(layout.namespacePin(ns, ID), '');
      mount(`/proc/self/ns/${ns}`, layout.namespacePin(ns, ID), null, MS_BIND);
    }
  } else if (kind === pausePersistDir) {
    fs.mkdirSync(layout.podPersistDir(ID), { recursive: true });
    fs.writeFileSync(path.join(layout.podPersistDir(ID), 'exit'), '0');
  } else if (kind === containerDataDir) {
    fs.mkdirSync(layout.containerDataDirs, { recursive: true });
    containerDataDir.acquire(layout, ID);
    fs.mkdirSync(layout.containerRootfs(ID));
    mount(lowerDir(layout), layout.containerRootfs(ID), null, MS_BIND);
    fs.mkdirSync(layout.containerPersistDir(ID));
  } else if (kind === socketLink) {
    fs.mkdirSync(layout.socketLinks, { recursive: true });
    fs.symlinkSync('/nonexistent/attach', layout.socketLink(ID));
  } else {
    assert.fail(`no test acquire for ${kind.leftoverName}`);
  }
}

/** Every path under both roots and every mount under them. */
function snapshot(layout: StateLayout, dir: string): { paths: string[]; mounts: string[] } {
  const paths: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      paths.push(path.relative(dir, full));
      if (entry.isDirectory()) walk(full);
    }
  };
  for (const root of [layout.root, layout.runRoot]) if (fs.existsSync(root)) walk(root);
  return { paths: paths.sort(), mounts: mountPointsUnder(dir) };
}

describe('resource catalogue: undo, remove and check --repair release alike', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-catalogue-'));
  });
  after(() => {
    for (const m of mountPointsUnder(dir)) {
      try { umount2(m, MNT_DETACH); } catch { /* gone */ }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of RESOURCE_KINDS) {
    it(`${kind.leftoverName}: the three paths leave the same empty state; releasing twice succeeds`, () => {
      const states = ['undo', 'remove', 'repair'].map((cleanup) => {
        const base = path.join(dir, `${cleanup}-${RESOURCE_KINDS.indexOf(kind)}`);
        const layout = new StateLayout(path.join(base, 'lib'), path.join(base, 'run'));
        fs.mkdirSync(layout.root, { recursive: true });
        fs.mkdirSync(layout.runRoot, { recursive: true });
        const empty = snapshot(layout, base);
        acquire(layout, kind);
        assert.notDeepEqual(snapshot(layout, base), empty, 'acquire made something');
        assert.deepEqual(kind.findLeftovers(layout, { pods: new Set(), containers: new Set() }).map((l) => l.id), [ID], 'listed by check');
        assert.deepEqual(kind.findLeftovers(layout, { pods: new Set([ID]), containers: new Set([ID]) }), [], 'not listed once recorded');
        if (cleanup === 'undo') {
          const undo = new UndoStack();
          undo.push('release', () => kind.release(layout, ID));
          return undo.unwind().then((failures) => { assert.deepEqual(failures, []); return snapshot(layout, base); });
        }
        if (cleanup === 'remove') {
          releaseAll(POD_RESOURCES.includes(kind) ? POD_RESOURCES : CONTAINER_RESOURCES, layout, ID);
        } else {
          const config = defaultConfig();
          config.state.root = layout.root;
          config.state.run_root = layout.runRoot;
          const repaired = checkNode(config, true).filter((f) => f.repaired);
          assert.deepEqual(repaired.map((f) => f.what), [kind.leftoverName]);
        }
        kind.release(layout, ID); // what is gone releases without error
        return Promise.resolve(snapshot(layout, base));
      });
      return Promise.all(states).then((left) => {
        for (const s of left) assert.deepEqual(s.mounts, [], 'no mount left');
        // Relative to each base: the three leave the very same tree.
        const trees = left.map((s) => s.paths);
        assert.deepEqual(trees[1], trees[0]);
        assert.deepEqual(trees[2], trees[0]);
        assert.ok(!trees[0]!.some((p) => p.includes(ID)), `nothing of ${ID} left: ${trees[0]!.join(', ')}`);
      });
    });
  }
});
