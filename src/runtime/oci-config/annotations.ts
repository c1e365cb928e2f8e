// OCI annotations cradle writes into every config.json, so a restarted cradled (or an
// operator with `runc list`/`runc state`) can tell what a container is without cradle's
// own state files. Keys under io.kubernetes.cri.* follow containerd's CRI plugin; keys
// under io.kubernetes.cradle.* are cradle's own.

export const ANNOTATIONS = {
  containerType: 'io.kubernetes.cri.container-type',
  containerName: 'io.kubernetes.cri.container-name',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  sandboxLogDirectory: 'io.kubernetes.cri.sandbox-log-directory',
  imageName: 'io.kubernetes.cri.image-name',
  containerId: 'io.kubernetes.cradle.container-id',
  attempt: 'io.kubernetes.cradle.attempt',
  imageRef: 'io.kubernetes.cradle.image-ref',
  logPath: 'io.kubernetes.cradle.log-path',
  createdAt: 'io.kubernetes.cradle.created-at',
  labels: 'io.kubernetes.cradle.labels',
} as const;

export type ContainerType = 'container' | 'sandbox';

export interface RecoveryInfo {
  type: ContainerType;
  id: string;
  sandboxId: string;
  name: string;
  attempt: number;
  podName: string;
  podNamespace: string;
  podUid: string;
  image?: string;
  imageRef?: string;
  logPath?: string;
  logDirectory?: string;
  createdAt?: string;
  labels: Record<string, string>;
}

/**
 * The request's annotations, then cradle's keys (which win: a pod cannot spoof them).
 * Empty optional values are left out.
 */
export function buildAnnotations(requestAnnotations: Record<string, string> | undefined, info: RecoveryInfo): Record<string, string> {
  const out: Record<string, string> = { ...(requestAnnotations ?? {}) };
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') out[key] = value;
    else delete out[key];
  };
  set(ANNOTATIONS.containerType, info.type);
  set(ANNOTATIONS.containerId, info.id);
  set(ANNOTATIONS.sandboxId, info.sandboxId);
  set(ANNOTATIONS.containerName, info.name);
  set(ANNOTATIONS.attempt, String(info.attempt));
  set(ANNOTATIONS.sandboxName, info.podName);
  set(ANNOTATIONS.sandboxNamespace, info.podNamespace);
  set(ANNOTATIONS.sandboxUid, info.podUid);
  set(ANNOTATIONS.imageName, info.image);
  set(ANNOTATIONS.imageRef, info.imageRef);
  set(ANNOTATIONS.logPath, info.logPath);
  set(ANNOTATIONS.sandboxLogDirectory, info.logDirectory);
  set(ANNOTATIONS.createdAt, info.createdAt);
  set(ANNOTATIONS.labels, Object.keys(info.labels).length > 0 ? JSON.stringify(info.labels) : undefined);
  return out;
}

/** Reads cradle's keys back (recovery); null when the spec was not written by cradle. */
export function readRecoveryAnnotations(annotations: Record<string, string> | undefined): RecoveryInfo | null {
  const a = annotations ?? {};
  const type = a[ANNOTATIONS.containerType];
  const id = a[ANNOTATIONS.containerId];
  const sandboxId = a[ANNOTATIONS.sandboxId];
  if ((type !== 'container' && type !== 'sandbox') || !id || !sandboxId) return null;
  let labels: Record<string, string> = {};
  try {
    const parsed: unknown = JSON.parse(a[ANNOTATIONS.labels] ?? '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) labels = parsed as Record<string, string>;
  } catch { /* keep empty */ }
  const info: RecoveryInfo = {
    type,
    id,
    sandboxId,
    name: a[ANNOTATIONS.containerName] ?? '',
    attempt: Number(a[ANNOTATIONS.attempt] ?? '0') || 0,
    podName: a[ANNOTATIONS.sandboxName] ?? '',
    podNamespace: a[ANNOTATIONS.sandboxNamespace] ?? '',
    podUid: a[ANNOTATIONS.sandboxUid] ?? '',
    labels,
  };
  const opt = (key: keyof RecoveryInfo, annotation: string) => {
    const v = a[annotation];
    if (v) (info as unknown as Record<string, string>)[key] = v;
  };
  opt('image', ANNOTATIONS.imageName);
  opt('imageRef', ANNOTATIONS.imageRef);
  opt('logPath', ANNOTATIONS.logPath);
  opt('logDirectory', ANNOTATIONS.sandboxLogDirectory);
  opt('createdAt', ANNOTATIONS.createdAt);
  return info;
}
