// Ready-made fixture images built from Debian's busybox-static, laid out like
// the upstream `busybox` image: /bin/busybox with every applet hard-linked next
// to it in /bin, a small /etc/passwd and /etc/group, /tmp 1777, /root 0700.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { ImageRuntimeConfig, ImageSpec, LayerSpec, ManifestFormat, Platform } from './image-builder';
import { entry, type Compression, type LayerEntry } from './layer-builder';

export const BUSYBOX_BINARY = '/bin/busybox';
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PasswdUser {
  name: string;
  uid: number;
  gid: number;
  gecos?: string;
  /** Default /home/<name> (created in the image, owned by the user). */
  home?: string;
  /** Default /bin/sh. */
  shell?: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  /** User names listed as supplementary members. */
  members?: string[];
}

/** Users of the upstream busybox image. */
export const BASE_USERS: readonly PasswdUser[] = [
  { name: 'root', uid: 0, gid: 0, gecos: 'root', home: '/root', shell: '/bin/sh' },
  { name: 'daemon', uid: 1, gid: 1, gecos: 'daemon', home: '/usr/sbin', shell: '/bin/false' },
  { name: 'bin', uid: 2, gid: 2, gecos: 'bin', home: '/bin', shell: '/bin/false' },
  { name: 'sys', uid: 3, gid: 3, gecos: 'sys', home: '/dev', shell: '/bin/false' },
  { name: 'sync', uid: 4, gid: 100, gecos: 'sync', home: '/bin', shell: '/bin/sync' },
  { name: 'mail', uid: 8, gid: 8, gecos: 'mail', home: '/var/spool/mail', shell: '/bin/false' },
  { name: 'www-data', uid: 33, gid: 33, gecos: 'www-data', home: '/var/www', shell: '/bin/false' },
  { name: 'operator', uid: 37, gid: 37, gecos: 'Operator', home: '/var', shell: '/bin/false' },
  { name: 'nobody', uid: 65534, gid: 65534, gecos: 'nobody', home: '/home', shell: '/bin/false' },
];

/** Groups of the upstream busybox image. */
export const BASE_GROUPS: readonly GroupEntry[] = [
  ['root', 0], ['daemon', 1], ['bin', 2], ['sys', 3], ['adm', 4], ['tty', 5], ['disk', 6], ['lp', 7],
  ['mail', 8], ['kmem', 9], ['wheel', 10], ['cdrom', 11], ['dialout', 18], ['floppy', 19], ['video', 26],
  ['audio', 29], ['tape', 32], ['www-data', 33], ['operator', 37], ['utmp', 43], ['plugdev', 46],
  ['staff', 50], ['lock', 54], ['netdev', 82], ['users', 100], ['nogroup', 65534],
].map(([name, gid]) => ({ name: name as string, gid: gid as number }));

export function passwdFile(users: readonly PasswdUser[]): string {
  return users.map((u) => `${u.name}:x:${u.uid}:${u.gid}:${u.gecos ?? u.name}:${u.home ?? `/home/${u.name}`}:${u.shell ?? '/bin/sh'}\n`).join('');
}

export function groupFile(groups: readonly GroupEntry[]): string {
  return groups.map((g) => `${g.name}:x:${g.gid}:${(g.members ?? []).join(',')}\n`).join('');
}

let appletCache: string[] | undefined;

/** Applet names of the host's busybox (`busybox --list`), minus `busybox` itself. */
export function busyboxApplets(): string[] {
  appletCache ??= execFileSync(BUSYBOX_BINARY, ['--list'], { encoding: 'utf8' })
    .split('\n').map((s) => s.trim()).filter((s) => s !== '' && s !== 'busybox');
  return [...appletCache];
}

let busyboxBytes: Buffer | undefined;

export interface BusyboxRootfsOptions {
  /** Users added after BASE_USERS (their home dirs are created, owned by them). */
  users?: readonly PasswdUser[];
  /** Groups added after BASE_GROUPS. */
  groups?: readonly GroupEntry[];
}

/** Entries of the busybox root filesystem (one layer). */
export function busyboxRootfsEntries(opts: BusyboxRootfsOptions = {}): LayerEntry[] {
  busyboxBytes ??= fs.readFileSync(BUSYBOX_BINARY);
  const users = [...BASE_USERS, ...(opts.users ?? [])];
  const groups = [...BASE_GROUPS, ...(opts.groups ?? [])];
  const entries: LayerEntry[] = [
    entry.dir('bin'),
    entry.file('bin/busybox', busyboxBytes, { mode: 0o755 }),
    // A hardlink's header mode must be its target's: containerd and moby chmod the
    // link (so the shared inode) to it, and 0644 would leave /bin/sh not executable.
    ...busyboxApplets().map((name) => entry.hardlink(`bin/${name}`, 'bin/busybox', { mode: 0o755 })),
    entry.dir('dev'),
    entry.dir('etc'),
    entry.file('etc/passwd', passwdFile(users)),
    entry.file('etc/group', groupFile(groups)),
    entry.file('etc/hostname', 'busybox\n'),
    entry.dir('home'),
    entry.dir('root', { mode: 0o700 }),
    entry.dir('tmp', { mode: 0o1777 }),
    entry.dir('usr'),
    entry.dir('usr/sbin'),
    entry.dir('var'),
    entry.dir('var/spool'),
    entry.dir('var/spool/mail'),
    entry.dir('var/www'),
  ];
  for (const u of opts.users ?? []) {
    const home = (u.home ?? `/home/${u.name}`).replace(/^\/+/, '');
    if (home.startsWith('home/')) entries.push(entry.dir(home, { uid: u.uid, gid: u.gid }));
  }
  return entries;
}

export interface BusyboxImageOptions extends BusyboxRootfsOptions {
  format?: ManifestFormat;
  platform?: Platform;
  /** Compression of the busybox layer (and default of extra layers). Default gzip. */
  compression?: Compression;
  /** Merged over the default config (Cmd ["sh"], PATH). */
  config?: ImageRuntimeConfig;
  /** Layers stacked on top of the busybox layer. */
  extraLayers?: readonly LayerSpec[];
}

/** The upstream-busybox-like image: one rootfs layer, Cmd ["sh"]. */
export function busyboxImage(opts: BusyboxImageOptions = {}): ImageSpec {
  const spec: ImageSpec = {
    layers: [{ entries: busyboxRootfsEntries(opts) }, ...(opts.extraLayers ?? [])],
    config: { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'], ...opts.config },
  };
  if (opts.format) spec.format = opts.format;
  if (opts.platform) spec.platform = opts.platform;
  if (opts.compression) spec.compression = opts.compression;
  return spec;
}

/**
 * /pause of the pause image. Like registry.k8s.io/pause it is PID 1 that exits 0
 * on SIGTERM/SIGINT (a trap installs handlers, so the kernel delivers them to
 * PID 1) and reaps orphans (ash's `wait` reaps any child). Unlike it, a
 * `sleep` child is visible in a shared PID namespace, and /proc/1/cmdline is
 * `/bin/sh /pause`. Plain `sleep infinity` would ignore SIGTERM as PID 1.
 */
export const PAUSE_SCRIPT = '#!/bin/sh\ntrap "exit 0" TERM INT\nwhile :; do sleep 2147483647 & wait $!; done\n';

export interface PauseImageOptions {
  format?: ManifestFormat;
  platform?: Platform;
}

/** Busybox plus /pause; Entrypoint ["/pause"]. */
export function pauseImage(opts: PauseImageOptions = {}): ImageSpec {
  return busyboxImage({
    ...opts,
    config: { Entrypoint: ['/pause'], Cmd: undefined, Labels: { 'io.cradle.test.fixture': 'pause' } },
    extraLayers: [{ entries: [entry.file('pause', PAUSE_SCRIPT, { mode: 0o755 })] }],
  });
}

/** Users of userImage() unless overridden. */
export const DEFAULT_EXTRA_USERS: readonly PasswdUser[] = [
  { name: 'cradle', uid: 1000, gid: 1000 },
  { name: 'other', uid: 1001, gid: 1001 },
];
export const DEFAULT_EXTRA_GROUPS: readonly GroupEntry[] = [
  { name: 'cradle', gid: 1000 },
  { name: 'other', gid: 1001 },
  { name: 'extra', gid: 2000, members: ['cradle'] },
];

export interface UserImageOptions extends BusyboxImageOptions {
  /** Image config User; default the first extra user's name. '' leaves it unset. */
  user?: string;
}

/**
 * Busybox with extra passwd users and groups (default: cradle 1000:1000 with
 * supplementary group extra 2000, other 1001:1001) and `User` set, for
 * RunAsUser/RunAsUserName/supplementary-group tests.
 */
export function userImage(opts: UserImageOptions = {}): ImageSpec {
  const users = opts.users ?? DEFAULT_EXTRA_USERS;
  const groups = opts.groups ?? DEFAULT_EXTRA_GROUPS;
  const user = opts.user ?? users[0]?.name ?? '';
  const config: ImageRuntimeConfig = { ...opts.config };
  if (user) config.User = user;
  return busyboxImage({ ...opts, users, groups, config });
}
