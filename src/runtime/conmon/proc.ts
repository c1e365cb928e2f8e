// /proc facts used for PID-reuse-safe process identity.
import * as fs from 'node:fs';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined if gone. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19];
}

/** True when pid is alive, not a zombie, and (if given) has the recorded start time. */
export function isProcessAlive(pid: number, startTime?: string): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return false;
  return startTime === undefined || startTime === '' || rest[19] === startTime;
}
