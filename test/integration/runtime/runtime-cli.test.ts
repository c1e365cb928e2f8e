// The daemon's OciRuntime: CradleRuntime (with its in-process fast paths) and the
// plain RuntimeCli over runc as an alternate handler.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RuntimeCli } from '../../../src/runtime/runtime-cli';
import { CRADLE_RUNTIME_BIN, CradleRuntime, ociRuntimeFor } from '../../../src/runtime/cradle-runtime';
import { errors } from '../../../src/common/errors';
import { RUNC, TestContainer, isRoot, leftoverCgroups, sweepStale } from './harness';
import { eventually } from '../../helpers/eventually';

const skip = !isRoot() && 'needs root';
before(() => { if (isRoot()) sweepStale(); });

for (const runtime of ['cradle', 'runc'] as const) {
  test(`the OciRuntime drives ${runtime}: create, start, state, ps, kill, delete`, { skip }, async (t) => {
    const ctr = new TestContainer(runtime, `cli-${runtime}`, ['sh', '-c', 'echo hi-from-container; sleep 1000']);
    t.after(() => ctr.cleanup());
    ctr.writeSpec();
    const cli = ociRuntimeFor({ root: ctr.root, binary: runtime === 'runc' ? RUNC : CRADLE_RUNTIME_BIN });
    assert.equal(cli instanceof CradleRuntime, runtime === 'cradle');
    t.after(() => cli.close());
    const out = fs.openSync(ctr.outFile, 'a');
    try {
      await cli.create(ctr.id, ctr.bundle, { pidFile: path.join(ctr.dir, 'pid'), stdio: ['ignore', out, out] });
    } finally {
      fs.closeSync(out);
    }
    assert.equal((await cli.state(ctr.id))!.status, 'created');
    await cli.start(ctr.id);
    assert.equal((await cli.state(ctr.id))!.status, 'running');
    await eventually(() => fs.readFileSync(ctr.outFile, 'utf8').includes('hi-from'), 'the container\'s output');
    assert.equal(fs.readFileSync(ctr.outFile, 'utf8'), 'hi-from-container\n');
    assert.ok((await cli.ps(ctr.id)).length >= 1);
    await assert.rejects(cli.delete(ctr.id), (err: Error) => errors.runtime.is(err) && /running/.test(err.message));
    await cli.kill(ctr.id, 'KILL');
    await eventually(async () => (await cli.state(ctr.id))!.status === 'stopped', 'the container to stop');
    await cli.delete(ctr.id);
    assert.equal(await cli.state(ctr.id), undefined);
    assert.deepEqual(leftoverCgroups(ctr.cgroupsPath), []);
  });
}

test('create reports the runtime\'s error message', { skip }, async (t) => {
  const ctr = new TestContainer('cradle', 'cli-err', ['no-such-binary']);
  t.after(() => ctr.cleanup());
  ctr.writeSpec();
  const cli = new RuntimeCli({ root: ctr.root, binary: CRADLE_RUNTIME_BIN });
  await assert.rejects(cli.create(ctr.id, ctr.bundle), /cradle-runtime create .*executable file not found in \$PATH/);
  assert.match(await cli.version(), /^cradle-runtime version /);
  assert.deepEqual(cli.conmonArgs().slice(0, 4), ['-r', cli.binary, '--runtime-arg', `--root=${ctr.root}`]);
});
