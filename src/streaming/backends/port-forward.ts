// PortForward: a connection to localhost:<port> as the pod sees it (tcp4, then
// tcp6, as containerd does). For a pod with its own network namespace the socket
// is created with the main thread briefly inside the pinned namespace (sockets
// belong to the namespace they are created in), connected, and handed to Node as
// a stream. A host-network pod shares the node's network, so its ports are the
// node's loopback ports as cradled itself reaches them (containerd dials them from
// its own namespace the same way).
import * as net from 'node:net';
import * as fs from 'node:fs';
import { errors, messageOf } from '../../common/errors';
import { withinNamespace } from '../../pod-sandbox/namespaces';
import type { SandboxManager } from '../../pod-sandbox/manager';
import { connectLoopbackTcp } from '../../sys/libc';
import type { PortForwardBackend } from '../backend';

export function portForwardBackend(sandboxes: SandboxManager): PortForwardBackend {
  return {
    async dial(podSandboxId, port, signal) {
      const sandbox = sandboxes.find(podSandboxId);
      if (sandbox.state !== 'SANDBOX_READY') throw errors.failedPrecondition(`pod sandbox ${sandbox.id} is not ready`);
      if (sandbox.hostNetwork) return dialHostLoopback(sandbox.id, port, signal);
      // Never fall back to the node's loopback for a pod that should have its own network.
      if (!sandbox.pinned.net) throw errors.failedPrecondition(`pod sandbox ${sandbox.id} has no network namespace`);
      return dialInNamespace(sandbox.id, sandbox.pinned.net, port);
    },
  };
}

const nothingListens = (sandboxId: string, port: number, err: unknown) =>
  errors.unavailable(`pod sandbox ${sandboxId}: nothing accepts connections on port ${port} (${messageOf(err)})`);

/** Loopback inside a pinned network namespace; blocking connect on the main thread (loopback answers at once). */
function dialInNamespace(sandboxId: string, netns: string, port: number): net.Socket {
  const connect = (family: 4 | 6) => withinNamespace(netns, 'net', () => connectLoopbackTcp(port, family));
  let fd: number;
  try {
    fd = connect(4);
  } catch (err4) {
    try {
      fd = connect(6);
    } catch {
      throw nothingListens(sandboxId, port, err4);
    }
  }
  try {
    return new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * The node's loopback from cradled's own namespace, connected asynchronously: a busy
 * host service (full accept queue) must not hold up the daemon's main thread.
 */
async function dialHostLoopback(sandboxId: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  try {
    return await connectTcp('127.0.0.1', port, signal);
  } catch (err4) {
    if (signal.aborted) throw err4;
    try {
      return await connectTcp('::1', port, signal);
    } catch {
      throw nothingListens(sandboxId, port, err4);
    }
  }
}

function connectTcp(host: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(errors.cancelled('port-forward abandoned by its client'));
      return;
    }
    const socket = net.connect({ host, port });
    const onAbort = (): void => {
      socket.destroy();
      reject(errors.cancelled('port-forward abandoned by its client'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}
