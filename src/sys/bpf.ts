// bpf(2) through koffi: loading a BPF_PROG_TYPE_CGROUP_DEVICE program and attaching
// it to a cgroup v2 directory (the v2 replacement of the v1 devices controller).
import * as fs from 'node:fs';
import type * as Koffi from 'koffi' with { 'resolution-mode': 'require' };
import { SyscallError } from './errno';
import { SYS } from './constants';

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;

let bpfCall: ((...args: unknown[]) => unknown) | undefined;
let koffiMod: typeof Koffi | undefined;

function bpf(cmd: number, attr: Buffer, what: string): number {
  if (!bpfCall) {
    koffiMod = require('koffi') as typeof Koffi;
    bpfCall = koffiMod.load('libc.so.6').func('syscall', 'long', ['long', 'int', 'void *', 'unsigned int']);
  }
  const rc = Number(bpfCall(SYS.bpf, cmd, attr, attr.length));
  if (rc < 0) throw new SyscallError('bpf', koffiMod!.errno(), what);
  return rc;
}

/** Loads a device program (instructions as 8-byte records); returns its fd. */
export function loadDeviceProgram(insns: Buffer): number {
  const license = Buffer.from('Apache\0');
  const log = Buffer.alloc(65536);
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  attr.writeUInt32LE(insns.length / 8, 4);
  const k = (koffiMod ?? (require('koffi') as typeof Koffi));
  attr.writeBigUInt64LE(k.address(insns), 8);
  attr.writeBigUInt64LE(k.address(license), 16);
  attr.writeUInt32LE(1, 24); // log_level
  attr.writeUInt32LE(log.length, 28);
  attr.writeBigUInt64LE(k.address(log), 32);
  try {
    return bpf(BPF_PROG_LOAD, attr, 'BPF_PROG_LOAD device program');
  } catch (err) {
    const verifier = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim();
    if (verifier) (err as Error).message += `: ${verifier.split('\n').slice(-3).join(' | ')}`;
    throw err;
  }
}

/** Attaches a loaded device program to a cgroup v2 directory. */
export function attachDeviceProgram(cgroupDir: string, progFd: number, flags = BPF_F_ALLOW_MULTI): void {
  const dirFd = fs.openSync(cgroupDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const attr = Buffer.alloc(128);
    attr.writeUInt32LE(dirFd, 0);
    attr.writeUInt32LE(progFd, 4);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    attr.writeUInt32LE(flags, 12);
    bpf(BPF_PROG_ATTACH, attr, `BPF_PROG_ATTACH ${cgroupDir}`);
  } finally {
    fs.closeSync(dirFd);
  }
}
