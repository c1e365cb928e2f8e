// Mounting overlayfs with many lower layers. mount(2) takes its options in one
// page, so a lowerdir= list of full paths stops fitting at a few dozen layers.
// Where the kernel has "lowerdir+" (6.8+), the new mount API (fsopen, fsconfig
// per layer, fsmount, move_mount) adds one layer per call and has no total limit;
// each path is given as /proc/self/fd/<dir fd>/<relative path>, which stays far
// under fsconfig's 256-byte string limit however long the store root is, and
// needs no chdir. Elsewhere the lowers are short relative links (as Docker's
// overlay2 and containers/storage do: l/<26 chars> is 29 bytes, 127 of them fit
// in a page), mounted by a child process started in the layer root, so the
// daemon's own working directory never changes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { koffi, loadLibc } from './libc-handle';
import { SyscallError } from './errno';
import { SYS } from './constants';

/** An image's layers as an overlay's lower dirs: paths relative to root, top-most first. */
export interface OverlayLowers {
  root: string;
  lowers: string[];
}

export interface OverlayMountSpec {
  /** Where to mount. */
  target: string;
  /** Directory the lower paths are relative to. */
  lowerRoot: string;
  /** Lower dirs relative to lowerRoot, top-most first. */
  lowers: readonly string[];
  upper: string;
  work: string;
}

/** Which way a mount was made; 'auto' picks fsconfig where the kernel has lowerdir+. */
export type OverlayMountApi = 'fsconfig' | 'mount';

const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const AT_FDCWD = -100;
/** mount(2) copies at most one page of options, NUL included. */
const PAGE_OPTION_LIMIT = 4095;

type Fn = (...args: unknown[]) => number | bigint;
interface NewMountFns {
  fsopen: Fn; fsconfig: Fn; fsmount: Fn; moveMount: Fn; errno: () => number;
}
let fns: NewMountFns | undefined;

function newMountFns(): NewMountFns {
  if (!fns) {
    const libc = loadLibc();
    fns = {
      fsopen: libc.func('syscall', 'long', ['long', 'const char *', 'unsigned int']) as unknown as Fn,
      fsconfig: libc.func('syscall', 'long', ['long', 'int', 'unsigned int', 'const char *', 'const char *', 'int']) as unknown as Fn,
      fsmount: libc.func('syscall', 'long', ['long', 'int', 'unsigned int', 'unsigned int']) as unknown as Fn,
      moveMount: libc.func('syscall', 'long', ['long', 'int', 'const char *', 'int', 'const char *', 'unsigned int']) as unknown as Fn,
      errno: () => koffi().errno(),
    };
  }
  return fns;
}

/** True when the running kernel accepts overlayfs's lowerdir+ (Linux 6.8). */
export function kernelHasLowerdirPlus(release = os.release()): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 6 || (major === 6 && minor >= 8);
}

/** The mount(2) option string of the fallback (relative lowers); throws if it does not fit in a page. */
export function legacyOverlayOptions(spec: OverlayMountSpec): string {
  const options = `lowerdir=${spec.lowers.join(':')},upperdir=${spec.upper},workdir=${spec.work}`;
  if (Buffer.byteLength(options) > PAGE_OPTION_LIMIT) {
    throw new Error(`overlay options for ${spec.lowers.length} layers are ${Buffer.byteLength(options)} bytes, more than mount(2) takes (${PAGE_OPTION_LIMIT}); this kernel has no lowerdir+`);
  }
  return options;
}

/** Mounts the overlay; returns the API used. */
export function mountOverlayFs(spec: OverlayMountSpec, api: OverlayMountApi | 'auto' = 'auto'): OverlayMountApi {
  const chosen = api === 'auto' ? (kernelHasLowerdirPlus() ? 'fsconfig' : 'mount') : api;
  if (chosen === 'fsconfig') mountWithFsconfig(spec);
  else mountFromLowerRoot(spec);
  return chosen;
}

function mountWithFsconfig(spec: OverlayMountSpec): void {
  const f = newMountFns();
  const opened: number[] = [];
  const openDir = (dir: string) => {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    opened.push(fd);
    return `/proc/self/fd/${fd}`;
  };
  let fsfd = -1;
  let mfd = -1;
  const fail = (call: string, detail: string): never => {
    const errno = f.errno();
    const log = fsfd >= 0 ? readFsLog(fsfd) : '';
    const err = new SyscallError(call, errno, detail);
    if (log) err.message += ` (${log})`;
    throw err;
  };
  try {
    const root = openDir(spec.lowerRoot);
    fsfd = Number(f.fsopen(SYS.fsopen, 'overlay', FSOPEN_CLOEXEC));
    if (fsfd < 0) fail('fsopen', 'overlay');
    const set = (key: string, value: string, shown: string) => {
      if (Number(f.fsconfig(SYS.fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0)) < 0) fail('fsconfig', `${key}=${shown}`);
    };
    // lowerdir+ stacks in call order: the first one is the top-most lower.
    for (const lower of spec.lowers) set('lowerdir+', `${root}/${lower}`, path.join(spec.lowerRoot, lower));
    set('upperdir', openDir(spec.upper), spec.upper);
    set('workdir', openDir(spec.work), spec.work);
    if (Number(f.fsconfig(SYS.fsconfig, fsfd, FSCONFIG_CMD_CREATE, null, null, 0)) < 0) fail('fsconfig', 'create');
    mfd = Number(f.fsmount(SYS.fsmount, fsfd, FSMOUNT_CLOEXEC, 0));
    if (mfd < 0) fail('fsmount', 'overlay');
    if (Number(f.moveMount(SYS.move_mount, mfd, '', AT_FDCWD, spec.target, MOVE_MOUNT_F_EMPTY_PATH)) < 0) fail('move_mount', spec.target);
  } finally {
    if (mfd >= 0) fs.closeSync(mfd);
    if (fsfd >= 0) fs.closeSync(fsfd);
    for (const fd of opened) fs.closeSync(fd);
  }
}

/** The kernel's messages about a failed fs context ("e overlayfs: ..." lines). */
function readFsLog(fsfd: number): string {
  const lines: string[] = [];
  const buf = Buffer.alloc(1024);
  for (let i = 0; i < 8; i++) {
    let n = 0;
    try {
      n = fs.readSync(fsfd, buf, 0, buf.length, null);
    } catch {
      break;
    }
    if (n <= 0) break;
    lines.push(buf.subarray(0, n).toString('utf8'));
  }
  return lines.join('; ');
}

/** mount(2) with relative lowers, from a child whose working directory is the layer root. */
function mountFromLowerRoot(spec: OverlayMountSpec): void {
  const options = legacyOverlayOptions(spec);
  const child = spawnSync(process.execPath, [path.join(__dirname, 'overlay-mount-child.js')], {
    cwd: spec.lowerRoot,
    input: JSON.stringify({ target: spec.target, options }),
    env: {},
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (child.error) throw child.error;
  if (child.status !== 0) {
    throw new Error(`mounting overlay at ${spec.target} from ${spec.lowerRoot}: ${(child.stderr || `exit ${child.status ?? child.signal}`).trim()}`);
  }
}
