// Brings up `lo` in a pod's network namespace. cradle does this itself rather than
// requiring a loopback config file: it runs the standard `loopback` plugin from the
// plugin dirs, or, when that binary is missing, `nsenter --net=<ns> ip link set lo up`.
import { execFile } from 'node:child_process';
import { cleanChildEnv } from '../common/child-env';
import { errors, messageOf } from '../common/errors';
import { findPlugin } from './config';
import type { NetworkOps } from './network-ops';
import type { NetworkConfigList } from './types';

/** The in-memory list used for loopback (0.3.1: understood by every plugin release since 0.7). */
export const LOOPBACK_NETWORK: NetworkConfigList = {
  name: 'cni-loopback',
  cniVersion: '0.3.1',
  disableCheck: true,
  disableGC: true,
  plugins: [{ type: 'loopback', capabilities: new Set(), raw: { type: 'loopback' } }],
  source: '',
  raw: { cniVersion: '0.3.1', name: 'cni-loopback', plugins: [{ type: 'loopback' }] },
};

export async function bringUpLoopback(
  ops: NetworkOps,
  pluginDirs: readonly string[],
  netns: string,
  containerId: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  if (await findPlugin('loopback', pluginDirs)) {
    await ops.add(LOOPBACK_NETWORK, { containerId, netns, ifName: 'lo', args: [['IgnoreUnknown', '1']], capabilityArgs: {} }, signal);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    execFile('nsenter', [`--net=${netns}`, 'ip', 'link', 'set', 'lo', 'up'],
      { env: cleanChildEnv(), timeout: timeoutMs, ...(signal ? { signal } : {}) },
      (err, _stdout, stderr) => {
        if (err) reject(errors.network(`bringing up loopback in ${netns} (no loopback plugin in ${pluginDirs.join(', ')}): ${stderr.trim() || messageOf(err)}`));
        else resolve();
      });
  });
}
