// The per-architecture constants: syscall numbers and the open flags that differ
// between x86-64 and aarch64, checked against the kernel's uapi headers
// (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h,
// arch/arm64/include/uapi/asm/fcntl.h).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { O_DIRECTORY, O_NOFOLLOW, SYS, openFlags, supportedArch, syscallNumbers } from '../../../src/sys/constants';
import { seccompArches } from '../../../src/sys/seccomp';

test('x86-64 syscall numbers are the kernel\'s', () => {
  assert.deepEqual({ ...syscallNumbers('x64') }, {
    capget: 125, capset: 126, setgroups: 116, setresuid: 117, setresgid: 119, pivot_root: 155, seccomp: 317, bpf: 321,
    open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, close_range: 436, mount_setattr: 442,
  });
});

test('aarch64 syscall numbers are the kernel\'s (asm-generic)', () => {
  assert.deepEqual({ ...syscallNumbers('arm64') }, {
    capget: 90, capset: 91, setgroups: 159, setresuid: 147, setresgid: 149, pivot_root: 41, seccomp: 277, bpf: 280,
    open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, close_range: 436, mount_setattr: 442,
  });
});

test('O_DIRECTORY and O_NOFOLLOW per architecture, and the running one\'s agree with Node\'s', () => {
  assert.deepEqual(openFlags('x64'), { O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000 });
  assert.deepEqual(openFlags('arm64'), { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000 });
  // Node's own values are compiled for the machine it runs on.
  assert.equal(O_DIRECTORY, fs.constants.O_DIRECTORY);
  assert.equal(O_NOFOLLOW, fs.constants.O_NOFOLLOW);
});

test('the running architecture selects its table; others are refused by name', () => {
  assert.deepEqual(SYS, syscallNumbers(supportedArch(process.arch)));
  assert.throws(() => supportedArch('riscv64'), /x86-64 \(x64\) and aarch64 \(arm64\) Linux only, not on riscv64/);
});

test('seccomp filters cover each host\'s own and compat architectures (as runc and moby)', () => {
  assert.deepEqual(seccompArches('x64'), ['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86_64']);
  assert.deepEqual(seccompArches('arm64'), ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64']);
});
