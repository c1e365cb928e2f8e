// Attach: to the container's main process through conmon's attach socket
// (SOCK_SEQPACKET, frames of [1 byte stream id][data]; 2 = stdout, 3 = stderr)
// and its control FIFO for terminal resizes. Node's net module cannot open a
// SEQPACKET socket, so the fd comes from src/sys: each packet is read without
// waiting once the daemon's one epoll loop (sys/fd-poller) says it is there, so a
// session holds no thread while the container is quiet.
import * as fs from 'node:fs';
import { errors, messageOf } from '../../common/errors';
import { conmonFile, type StateLayout } from '../../common/state-layout';
import type { ContainerManager } from '../../containers/manager';
import { connectSeqpacket, receiveNow, shutdownSocket, SHUT_RDWR, SHUT_WR } from '../../sys/unix-socket';
import { fdPoller } from '../../sys/fd-poller';
import type { AttachBackend } from '../backend';

const FRAME = 8192 + 1;

export function attachBackend(containers: ContainerManager, layout: StateLayout): AttachBackend {
  return {
    async attach(request, io, signal) {
      const c = containers.find(request.containerId);
      if (c.state !== 'CONTAINER_RUNNING') throw errors.failedPrecondition(`container ${c.id} is not running`);
      if (request.stdin && !c.config.stdin) throw errors.failedPrecondition(`container ${c.id} was created without stdin: nothing to attach stdin to`);
      let fd: number;
      try {
        fd = connectSeqpacket(layout.attachSocket(c.id));
      } catch (err) {
        throw errors.unavailable(`attaching to container ${c.id}: ${messageOf(err)}`);
      }
      const stop = () => shutdownSocket(fd, SHUT_RDWR);
      signal.addEventListener('abort', stop, { once: true });

      // stdin: each chunk is one packet; EOF half-closes so conmon can close the container's stdin.
      let writes = Promise.resolve();
      const onData = (chunk: Buffer) => {
        writes = writes.then(() => writeFd(fd, chunk));
      };
      if (io.stdin) {
        io.stdin.on('data', onData);
        io.stdin.once('end', () => { void writes.then(() => shutdownSocket(fd, SHUT_WR)); });
      }
      const resizes = (async () => {
        for await (const size of io.resize) {
          try {
            const ctl = fs.openSync(conmonFile(c.dir, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
            try { fs.writeSync(ctl, `1 ${size.height} ${size.width}\n`); } finally { fs.closeSync(ctl); }
          } catch { /* container gone */ }
        }
      })();
      const poller = fdPoller();
      try {
        const buf = Buffer.alloc(FRAME);
        for (;;) {
          let n: number | undefined;
          try {
            n = receiveNow(fd, buf);
          } catch {
            n = 0; // the socket failed: the session ends as at end of file
          }
          if (n === undefined) {
            await poller.readable(fd);
            continue;
          }
          if (n <= 0) break;
          const data = Buffer.from(buf.subarray(1, n));
          const target = buf[0] === 3 ? io.stderr ?? io.stdout : io.stdout;
          if (target && !target.write(data)) await new Promise((r) => target.once('drain', r));
        }
      } finally {
        signal.removeEventListener('abort', stop);
        io.stdin?.off('data', onData);
        poller.forget(fd);
        fs.closeSync(fd);
        void resizes;
      }
    },
  };
}

function writeFd(fd: number, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => fs.write(fd, chunk, () => resolve()));
}
