// The container's uid, gid and supplementary groups, as cri-o and containerd compute them:
// RunAsUser / RunAsUsername / the image's USER (uid, name, uid:gid, name:group), RunAsGroup,
// the image's /etc/passwd and /etc/group, SupplementalGroups with policy Merge or Strict.
import { errors } from '../../common/errors';
import type { Int64Value__Output } from '../../generated/runtime/v1/Int64Value';
import type { LinuxContainerSecurityContext__Output } from '../../generated/runtime/v1/LinuxContainerSecurityContext';
import { readRootfsFile } from './rootfs-file';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 0xfffffffe; // (uid_t)-1 is "no id"

function parseId(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n <= MAX_ID ? n : null;
}

/** Parses /etc/passwd text; malformed lines are skipped (as glibc does). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3]!);
    if (uid === null || gid === null || f[0] === '') continue;
    out.push({ name: f[0]!, uid, gid, home: f[5]!, shell: f[6]! });
  }
  return out;
}

/** Parses /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = parseId(f[2]!);
    if (gid === null || f[0] === '') continue;
    out.push({ name: f[0]!, gid, members: f[3]!.split(',').map((m) => m.trim()).filter((m) => m !== '') });
  }
  return out;
}

/** The rootfs's account databases, read symlink-safely (missing files are empty). */
export interface AccountDb {
  passwd: PasswdEntry[];
  group: GroupEntry[];
}

export function readAccountDb(rootfs: string): AccountDb {
  return {
    passwd: parsePasswd(readRootfsFile(rootfs, '/etc/passwd') ?? ''),
    group: parseGroup(readRootfsFile(rootfs, '/etc/group') ?? ''),
  };
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups, primary gid first, no duplicates. */
  additionalGids: number[];
  /** Name from /etc/passwd, if the uid has one. */
  username?: string;
  /** Home directory from /etc/passwd, else '/'. */
  home: string;
}

const SC = 'config.linux.securityContext';

function int64Field(value: string, field: string): number {
  const n = parseId(value);
  if (n === null) throw errors.invalidField(field, `${JSON.stringify(value)} is not a valid id (0..${MAX_ID})`);
  return n;
}

/** The identity fields of a container's or a pod's security context (a pod has no username). */
export interface RequestedIdentity {
  runAsUser: Int64Value__Output | null;
  runAsGroup: Int64Value__Output | null;
  runAsUsername?: string;
}

/**
 * RunAsGroup is the group of the user the request names: without RunAsUser or
 * RunAsUsername it is refused, as containerd and cri-o do (CRI contract; critest
 * "should return error if RunAsGroup is set without RunAsUser"). Cheap and
 * rootfs-free, so callers check it before making anything.
 */
export function checkRunAsGroupHasUser(sc: RequestedIdentity | null, fieldPrefix = SC): void {
  if (sc?.runAsGroup && !sc.runAsUser && !sc.runAsUsername) {
    throw errors.invalidField(`${fieldPrefix}.runAsGroup`, 'set without runAsUser or runAsUsername: a group needs the user it applies to');
  }
}

/**
 * Resolves the container user.
 * - RunAsUser wins over RunAsUsername, which wins over the image's USER.
 * - Without an explicit group the primary gid comes from the passwd entry (0 if none).
 * - RunAsGroup overrides the gid; it needs RunAsUser or RunAsUsername (checkRunAsGroupHasUser).
 * - Policy Merge: groups listing the user in /etc/group + SupplementalGroups;
 *   policy Strict: SupplementalGroups only. The primary gid is always included (containerd).
 */
export function resolveUser(
  sc: Pick<LinuxContainerSecurityContext__Output, 'runAsUser' | 'runAsUsername' | 'runAsGroup' | 'supplementalGroups' | 'supplementalGroupsPolicy'> | null,
  imageUser: string | undefined,
  db: AccountDb,
  fieldPrefix = SC,
): ResolvedUser {
  checkRunAsGroupHasUser(sc, fieldPrefix);
  let uid: number;
  let gid: number | undefined;
  let entry: PasswdEntry | undefined;

  if (sc?.runAsUser) {
    uid = int64Field(sc.runAsUser.value, `${fieldPrefix}.runAsUser`);
    entry = db.passwd.find((p) => p.uid === uid);
  } else if (sc?.runAsUsername) {
    entry = db.passwd.find((p) => p.name === sc.runAsUsername);
    if (!entry) {
      throw errors.invalidField(`${fieldPrefix}.runAsUsername`, `user ${JSON.stringify(sc.runAsUsername)} not found in the image's /etc/passwd`);
    }
    uid = entry.uid;
  } else {
    const spec = (imageUser ?? '').trim();
    const [userPart = '', groupPart] = spec === '' ? [''] : spec.split(':', 2);
    if (userPart === '') {
      uid = 0;
      entry = db.passwd.find((p) => p.uid === 0);
    } else {
      const numeric = parseId(userPart);
      if (numeric !== null) {
        uid = numeric;
        entry = db.passwd.find((p) => p.uid === uid);
      } else {
        entry = db.passwd.find((p) => p.name === userPart);
        if (!entry) throw errors.invalidField('image.config.User', `user ${JSON.stringify(userPart)} not found in the image's /etc/passwd`);
        uid = entry.uid;
      }
    }
    if (groupPart !== undefined && groupPart !== '') {
      const numericGroup = parseId(groupPart);
      if (numericGroup !== null) gid = numericGroup;
      else {
        const g = db.group.find((x) => x.name === groupPart);
        if (!g) throw errors.invalidField('image.config.User', `group ${JSON.stringify(groupPart)} not found in the image's /etc/group`);
        gid = g.gid;
      }
    }
  }
  if (gid === undefined) gid = entry?.gid ?? 0;
  if (sc?.runAsGroup) gid = int64Field(sc.runAsGroup.value, `${fieldPrefix}.runAsGroup`);

  const groups: number[] = [gid];
  const add = (g: number) => {
    if (!groups.includes(g)) groups.push(g);
  };
  const strict = sc?.supplementalGroupsPolicy === 'Strict';
  if (!strict && entry) {
    for (const g of db.group) if (g.members.includes(entry.name)) add(g.gid);
  }
  (sc?.supplementalGroups ?? []).forEach((value, i) => add(int64Field(value, `${fieldPrefix}.supplementalGroups[${i}]`)));

  const out: ResolvedUser = { uid, gid, additionalGids: groups, home: entry?.home || '/' };
  if (entry) out.username = entry.name;
  return out;
}
