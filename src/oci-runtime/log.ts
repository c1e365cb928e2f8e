// The runtime's --log file, in runc's (logrus) shapes: JSON {"level","msg","time"}
// or text `time="..." level=... msg="..."`. pino is not used here: the CLI is
// started for every container operation and its load time is on the critical path.
// Nothing is ever written to process.stdout/stderr streams (trap 10): under conmon
// fds 1 and 2 are the container's pipes.
import * as fs from 'node:fs';

export type RuntimeLogFormat = 'json' | 'text';

export class RuntimeLog {
  constructor(private readonly file: string | undefined, private readonly format: RuntimeLogFormat = 'text', private readonly debugEnabled = false) {}

  debug(msg: string, fields: Record<string, unknown> = {}): void {
    if (this.debugEnabled) this.write('debug', msg, fields);
  }

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('info', msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('warning', msg, fields);
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('error', msg, fields);
  }

  private write(level: string, msg: string, fields: Record<string, unknown>): void {
    if (!this.file) return;
    const time = new Date().toISOString();
    const line = this.format === 'json'
      ? JSON.stringify({ level, msg, time, ...fields })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}${Object.entries(fields).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('')}`;
    try {
      fs.appendFileSync(this.file, line + '\n');
    } catch {
      // a broken log file must not change the command's outcome
    }
  }
}
