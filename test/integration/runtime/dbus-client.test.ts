// The systemd driver's synchronous D-Bus client (src/sys/dbus.ts) against an
// independent implementation: a private dbus-daemon on a socket in a temp dir
// (authentication, Hello, replies with arrays and booleans, error replies). The
// calls to systemd itself are exercised in the VM lane (test/vm/smoke.test.ts).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DBusConnection, DBusError } from '../../../src/sys/dbus';

const DBUS_DAEMON = '/usr/bin/dbus-daemon';
const BUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

test('method calls, replies and errors over a real bus', { skip: fs.existsSync(DBUS_DAEMON) ? false : `${DBUS_DAEMON} missing (package dbus-daemon)` }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-dbus-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'bus');
  fs.writeFileSync(path.join(dir, 'bus.conf'), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow user="*"/><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/></policy>
</busconfig>
`);
  const daemon = spawn(DBUS_DAEMON, [`--config-file=${path.join(dir, 'bus.conf')}`, '--nofork', '--nopidfile', '--print-address'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { daemon.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    daemon.stdout.on('data', () => resolve());
    daemon.on('exit', (code) => reject(new Error(`dbus-daemon exited ${code}`)));
  });

  const conn = DBusConnection.open(socket, true);
  t.after(() => conn.close());
  const [names] = conn.call({ ...BUS, member: 'ListNames' });
  assert.ok(Array.isArray(names) && names.includes('org.freedesktop.DBus'), `ListNames: ${JSON.stringify(names)}`);
  assert.ok((names as string[]).some((n) => n.startsWith(':')), 'Hello gave this connection a unique name');

  assert.deepEqual(conn.call({ ...BUS, member: 'RequestName', signature: 'su', body: ['io.cradle.Test', 0] }), [1], 'primary owner');
  assert.deepEqual(conn.call({ ...BUS, member: 'NameHasOwner', signature: 's', body: ['io.cradle.Test'] }), [true]);
  assert.deepEqual(conn.call({ ...BUS, member: 'NameHasOwner', signature: 's', body: ['io.cradle.Nobody'] }), [false]);

  assert.throws(() => conn.call({ ...BUS, member: 'NoSuchMethod' }), (err: unknown) => {
    assert.ok(err instanceof DBusError);
    assert.equal(err.name, 'org.freedesktop.DBus.Error.UnknownMethod');
    assert.match(err.message, /NoSuchMethod/);
    return true;
  });
  // The connection still works after an error reply.
  assert.deepEqual(conn.call({ ...BUS, member: 'NameHasOwner', signature: 's', body: ['io.cradle.Test'] }), [true]);
});

test('a peer that never answers fails the call after the timeout instead of blocking the caller', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-test-dbus-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'silent');
  // Accepts connections (the kernel's backlog does, even while this thread is blocked) and reads nothing.
  const server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.after(() => server.close());
  const started = Date.now();
  assert.throws(() => DBusConnection.open(socket, false, 300), /D-Bus .*silent: no reply within 300 ms/);
  assert.ok(Date.now() - started < 20_000, 'returned instead of waiting for ever');
});
