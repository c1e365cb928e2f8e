// ExecSync with a timeout through a real cradled: when the call answers, the timed-out
// command and what it started in its process group are gone from the container, not
// running and not left as zombies (critest "runtime should support execSync with
// timeout" runs `pgrep sleep` right after). The pod shares its PID namespace with the
// fixture pause, whose own `sleep 2147483647` is the only sleep that may be seen.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodFixture } from '../../helpers/pod-fixture';

const f = new PodFixture('cradle-tet0', '10.224.0.0/24');

/** The pause's child, always there in a pod-wide PID namespace. */
const PAUSE_SLEEP = 'sleep 2147483647';

describe('ExecSync timeout', () => {
  let id: string;

  before(async () => {
    await f.start();
    const pod = await f.runPod('exectimeout');
    id = await f.runContainer(pod, f.containerConfig('top', ['top']));
    await f.waitForState(id, 'CONTAINER_RUNNING');
  });
  after(() => f.stop());

  /** Every `sleep` in the container as "<state> <args>" (a zombie's args read "[sleep]"), but the pause's. */
  async function sleepsLeft(): Promise<string[]> {
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd: ['ps', '-o', 'stat,comm,args'], timeout: 30 });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    return r.stdout.toString().split('\n').slice(1).map((l) => l.trim().split(/\s+/))
      .filter(([, comm]) => comm === 'sleep')
      .map(([stat, , ...args]) => `${stat} ${args.join(' ')}`)
      .filter((l) => !l.endsWith(` ${PAUSE_SLEEP}`));
  }

  async function execTimingOut(cmd: string[], timeout: number): Promise<void> {
    const started = Date.now();
    const r = await f.cri.runtime.ExecSync({ containerId: id, cmd, timeout });
    // cradle answers a timeout as cri-o does: exit code -1 and a message.
    assert.equal(r.exitCode, -1);
    assert.match(r.stderr.toString(), /timed out after/);
    const took = Date.now() - started;
    assert.ok(took >= timeout * 1000 && took < timeout * 1000 + 5000, `answered after ${took} ms`);
  }

  it('the timed-out process is killed and reaped before the call answers (critest: sleep 4321, then pgrep sleep)', async () => {
    assert.deepEqual(await sleepsLeft(), []);
    await execTimingOut(['sleep', '4321'], 1);
    assert.deepEqual(await sleepsLeft(), []);
  });

  it('what the timed-out process started in its process group is killed too', async () => {
    await execTimingOut(['sh', '-c', 'sleep 4322 & sleep 4323; echo not reached'], 2);
    assert.deepEqual(await sleepsLeft(), []);
  });
});
