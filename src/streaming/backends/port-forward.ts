// PortForward: a connection to localhost:<port> inside the pod's network
// namespace (tcp4, then tcp6, as containerd does). The socket is created with the
// main thread briefly inside the pinned namespace (sockets belong to the
// namespace they are created in), connected, and handed to Node as a stream.
import * as net from 'node:net';
import * as fs from 'node:fs';
import { errors, messageOf } from '../../common/errors';
import { withinNamespace } from '../../pod-sandbox/namespaces';
import type { SandboxManager } from '../../pod-sandbox/manager';
import { connectLoopbackTcp } from '../../sys/libc';
import type { PortForwardBackend } from '../backend';

export function portForwardBackend(sandboxes: SandboxManager): PortForwardBackend {
  return {
    async dial(podSandboxId, port) {
      const sandbox = sandboxes.find(podSandboxId);
      if (sandbox.state !== 'SANDBOX_READY') throw errors.failedPrecondition(`pod sandbox ${sandbox.id} is not ready`);
      const connect = (family: 4 | 6) => (sandbox.hostNetwork || !sandbox.pinned.net
        ? connectLoopbackTcp(port, family)
        : withinNamespace(sandbox.pinned.net, 'net', () => connectLoopbackTcp(port, family)));
      let fd: number;
      try {
        fd = connect(4);
      } catch (err4) {
        try {
          fd = connect(6);
        } catch {
          throw errors.unavailable(`pod sandbox ${sandbox.id}: nothing accepts connections on port ${port} (${messageOf(err4)})`);
        }
      }
      try {
        return new net.Socket({ fd, readable: true, writable: true });
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
    },
  };
}
