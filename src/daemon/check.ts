// `cradled check [--repair]`: tells an operator what the node lacks (conmon,
// runtimes, CNI plugins and config, overlayfs, cgroup controllers) and audits
// cradle's records against the system (orphan runtime containers, bundles, pins,
// pod run dirs, socket links), removing orphans with --repair. Report mode only
// reads. Repair touches only objects no record refers to, which is why it must not
// run beside a live cradled (an in-flight creation has no record yet): cradled runs
// it itself at start, and `cradled check --repair` refuses while it serves.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CradleConfig } from '../config/schema';
import { shippedBinary } from '../common/package-info';
import { ociRuntimeFor } from '../runtime/cradle-runtime';
import { checkHost } from './check-host';
import { checkFeatures, probeFeatureHost } from './check-features';
import { executable } from './runtime-readiness';
import { bundleParts, StateLayout } from '../common/state-layout';
import { RESOURCE_KINDS } from '../runtime/resources';

export type CheckLevel = 'ok' | 'warn' | 'fail';
export interface CheckFinding {
  level: CheckLevel;
  what: string;
  detail: string;
  /** Set when --repair fixed it. */
  repaired?: boolean;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function recordIds(dir: string): Set<string> {
  return new Set(listDir(dir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
}

export function checkNode(config: CradleConfig, repair: boolean): CheckFinding[] {
  return [...checkNeeds(config), ...auditRecords(config, repair)];
}

/**
 * What the node needs: binaries, CNI configuration, overlayfs, cgroups, the host's settings,
 * the optional features. Only reads. `probeUserns: false` (cradled's own start) leaves out the
 * user namespace probe, which mounts and which the first Status makes anyway.
 */
export function checkNeeds(config: CradleConfig, options: { probeUserns?: boolean } = {}): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const add = (level: CheckLevel, what: string, detail: string) => findings.push({ level, what, detail });
  add(executable(config.runtime.conmon) ? 'ok' : 'fail', 'conmon', config.runtime.conmon);
  for (const [name, h] of Object.entries(config.runtime.runtimes)) {
    const binary = h.runtime_path || shippedBinary('cradle-runtime');
    add(executable(binary) ? 'ok' : 'fail', `runtime handler ${name}`, binary);
  }
  const cniConfigs = listDir(config.network.cni_config_dir).filter((n) => /\.(conf|conflist|json)$/.test(n));
  add(cniConfigs.length || config.network.write_default_config ? 'ok' : 'warn', 'CNI configuration',
    cniConfigs.length ? cniConfigs.join(', ') : config.network.write_default_config ? 'none yet: cradled writes its default network' : `none in ${config.network.cni_config_dir}`);
  const filesystems = fs.readFileSync('/proc/filesystems', 'utf8');
  add(/\toverlay$/m.test(filesystems) ? 'ok' : 'fail', 'overlayfs', /\toverlay$/m.test(filesystems) ? 'supported' : 'not in /proc/filesystems (modprobe overlay)');
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  const controllers = v2 ? fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/) : listDir('/sys/fs/cgroup');
  for (const c of ['memory', 'cpu', 'pids']) add(controllers.includes(c) ? 'ok' : 'fail', `cgroup controller ${c}`, v2 ? 'cgroup v2' : 'cgroup v1');
  findings.push(...checkHost(config));
  findings.push(...checkFeatures(config, probeFeatureHost(config, options.probeUserns ?? true)));
  return findings;
}

/** cradle's records against what exists: objects no record names are orphans, removed with repair. */
export function auditRecords(config: CradleConfig, repair: boolean): CheckFinding[] {
  const findings: CheckFinding[] = [];
  const add = (level: CheckLevel, what: string, detail: string) => findings.push({ level, what, detail });
  const layout = StateLayout.of(config);
  const pods = recordIds(layout.podRecords);
  const containers = recordIds(layout.containerRecords);
  const orphan = (what: string, target: string, remove: () => void) => {
    const finding: CheckFinding = { level: 'warn', what, detail: target };
    if (repair) {
      try {
        remove();
        finding.repaired = true;
      } catch (err) {
        finding.detail += ` (repair failed: ${(err as Error).message})`;
      }
    }
    findings.push(finding);
  };
  // Runtime state first: a pause or container a create was making when cradled died
  // (no record yet) still runs under its conmon. conmon goes first, so no exit file
  // is written for an id nobody knows; then the runtime kills and deletes it. Only
  // roots under cradle's run root: a configured one (runc's /run/runc, say) may hold
  // other tools' containers.
  for (const [name, h] of Object.entries(config.runtime.runtimes)) {
    const root = h.runtime_root || layout.runtimeRoot(name);
    if (path.relative(config.state.run_root, root).startsWith('..')) continue;
    const binary = h.runtime_path || shippedBinary('cradle-runtime');
    for (const id of listDir(root)) {
      if (pods.has(id) || containers.has(id) || !fs.existsSync(path.join(root, id, 'state.json'))) continue;
      orphan(`${name} runtime container without a record`, path.join(root, id), () => {
        killConmonOf(path.join(root, id, 'state.json'));
        ociRuntimeFor({ binary, root }).deleteLeftover(id);
      });
    }
  }
  // Then what the catalogue lists, released as remove() and a failed create release it.
  for (const leftover of RESOURCE_KINDS.flatMap((kind) => kind.findLeftovers(layout, { pods, containers }))) {
    orphan(leftover.kind.leftoverName, leftover.path, () => leftover.kind.release(layout, leftover.id));
  }
  if (!findings.some((f) => f.what.includes('without'))) {
    add('ok', 'records', `${pods.size} pod sandboxes, ${containers.size} containers, no orphans`);
  }
  return findings;
}

/** SIGKILLs the conmon of a runtime container (its pid file is in the bundle), if it is still conmon. */
function killConmonOf(stateFile: string): void {
  try {
    const { bundle } = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { bundle?: string };
    if (!bundle) return;
    const pid = Number(fs.readFileSync(bundleParts(bundle).conmonPidFile, 'utf8').trim());
    if (pid > 0 && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'conmon') process.kill(pid, 'SIGKILL');
  } catch { /* no bundle, no pid file, or conmon gone */ }
}

export function formatFindings(findings: CheckFinding[]): string {
  return findings.map((f) => `${f.level.toUpperCase().padEnd(4)} ${f.what}: ${f.detail}${f.repaired ? ' (repaired)' : ''}`).join('\n') + '\n';
}
