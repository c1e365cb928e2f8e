// critest area: runtime info (cri-tools pkg/validate/runtime_info.go).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTarget, type CriTarget } from './target';

describe('runtime info', () => {
  let target: CriTarget;
  before(async () => { target = await startTarget({ bridge: 'crit-info0', subnet: '10.214.10.0/24' }); });
  after(async () => { await target?.stop(); });

  it('Version answers the CRI API version v1 and names the runtime', async () => {
    const v = await target.cri.runtime.Version({ version: '0.1.0' });
    assert.equal(v.runtimeApiVersion, 'v1');
    assert.equal(v.version, '0.1.0');
    assert.notEqual(v.runtimeName, '');
    assert.notEqual(v.runtimeVersion, '');
  });

  it('Status reports RuntimeReady and NetworkReady true once a CNI network exists', async () => {
    let conditions: { type: string; status: boolean; message: string }[] = [];
    for (let i = 0; i < 100; i++) {
      conditions = (await target.cri.runtime.Status({})).status!.conditions;
      if (conditions.every((c) => c.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const byType = new Map(conditions.map((c) => [c.type, c]));
    assert.equal(byType.get('RuntimeReady')?.status, true, byType.get('RuntimeReady')?.message);
    assert.equal(byType.get('NetworkReady')?.status, true, byType.get('NetworkReady')?.message);
  });

  it('Status verbose returns JSON info', async (t) => {
    const s = await target.cri.runtime.Status({ verbose: true });
    assert.ok(Object.keys(s.info).length > 0);
    for (const [key, value] of Object.entries(s.info)) {
      // Documented difference: containerd 1.6 puts plain strings in some info values
      // ("golang", "lastCNILoadStatus...") although the CRI asks for JSON.
      if (target.name === 'containerd' && (key === 'golang' || key.startsWith('lastCNILoadStatus'))) continue;
      assert.doesNotThrow(() => JSON.parse(value), `info[${key}] is JSON`);
    }
    t.diagnostic(`info keys: ${Object.keys(s.info).join(', ')}`);
  });
});
