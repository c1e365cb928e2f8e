// The create <-> init protocol on the init's fd 3 (a socketpair from spawn):
// newline-delimited JSON messages. The init side is synchronous (it must never
// touch the threadpool after switching namespaces, nor process.stdout).
import * as fs from 'node:fs';
import type { OciSpec } from '../common/oci-spec';

export const SYNC_FD = 3;
export const CONSOLE_FD = 4;

export interface InitConfig {
  spec: OciSpec;
  rootfs: string;
  bundle: string;
  /** Absolute host path of exec.fifo. */
  fifoPath: string;
  noPivot: boolean;
  hasConsole: boolean;
  newCgroupNs: boolean;
  cgroupPaths: Record<string, string>;
  /** v1: the init joins cgroupPaths itself (its main thread) before anything else. */
  joinCgroups: boolean;
  /** OCI state (status "creating") for createContainer/startContainer hooks. */
  stateJson: string;
}

export type ToInit = { type: 'go'; config: InitConfig } | { type: 'hooks-done' } | { type: 'abort'; message: string };
export type FromInit = { type: 'ready' } | { type: 'hooks' } | { type: 'error'; message: string };

/** Synchronous line reader for the init side. */
export class SyncReader {
  private buffered = '';

  constructor(private readonly fd: number) {}

  read(): ToInit {
    for (;;) {
      const nl = this.buffered.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        return JSON.parse(line) as ToInit;
      }
      const buf = Buffer.alloc(65536);
      const n = fs.readSync(this.fd, buf, 0, buf.length, null);
      if (n === 0) throw new Error('the runtime closed the sync pipe');
      this.buffered += buf.subarray(0, n).toString('utf8');
    }
  }
}

export function writeSync(fd: number, msg: FromInit): void {
  fs.writeSync(fd, JSON.stringify(msg) + '\n');
}
