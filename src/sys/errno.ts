// Turns a failed libc/syscall return into an Error naming the call, its arguments
// (where they help) and the errno, in the shape of Node's own system errors.
import * as os from 'node:os';

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(os.constants.errno).map(([name, value]) => [value, name]),
);

export class SyscallError extends Error {
  readonly syscall: string;
  readonly errno: number;
  /** Symbolic errno ('EPERM', ...), as Node's system errors carry it. */
  readonly code: string;

  constructor(syscall: string, errno: number, detail?: string) {
    const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${syscall}${detail ? `(${detail})` : ''}: ${code}: ${describe(errno)}`);
    this.name = 'SyscallError';
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

function describe(errno: number): string {
  // The few errnos worth spelling out to a user; the code is enough for the rest.
  switch (errno) {
    case 1: return 'operation not permitted';
    case 2: return 'no such file or directory';
    case 13: return 'permission denied';
    case 16: return 'device or resource busy';
    case 17: return 'file exists';
    case 20: return 'not a directory';
    case 22: return 'invalid argument';
    case 30: return 'read-only file system';
    default: return 'system call failed';
  }
}
