// Calls of methods of systemd's Manager interface (org.freedesktop.systemd1.Manager)
// for the systemd cgroup driver: over systemd's private socket (root, no bus daemon
// needed), else the system bus. One connection per call: calls are rare (a scope per
// container) and systemd answers at once.
import * as fs from 'node:fs';
import { DBusConnection, type DBusValue, type MethodCall } from './dbus';

/** A call of a Manager method (replaced in unit tests). */
export type SystemdCall = (member: string, signature: string, body: DBusValue[]) => DBusValue[];

/** systemd's own socket: a direct connection for root, with no bus daemon in between. */
export const SYSTEMD_PRIVATE_SOCKET = '/run/systemd/private';
const SYSTEM_BUS = '/run/dbus/system_bus_socket';

/** A method call to systemd's manager object. */
export function managerMethodCall(member: string, signature: string, body: DBusValue[]): MethodCall {
  return {
    destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager',
    member, signature, body,
  };
}

export const callSystemdManager: SystemdCall = (member, signature, body) => {
  const direct = fs.existsSync(SYSTEMD_PRIVATE_SOCKET);
  const conn = DBusConnection.open(direct ? SYSTEMD_PRIVATE_SOCKET : SYSTEM_BUS, !direct);
  try {
    return conn.call(managerMethodCall(member, signature, body));
  } finally {
    conn.close();
  }
};
