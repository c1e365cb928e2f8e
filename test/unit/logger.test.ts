import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, LogFilter } from '../../src/common/logger';

function capture(format: 'json' | 'text') {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', format, destination: { write: (l: string) => lines.push(l) } });
  return { log, lines };
}

test('credentials never reach a log line, whatever the nesting', () => {
  const { log, lines } = capture('json');
  log.debug({ auth: { username: 'u', password: 'hunter2', auth: 'dTpodW50ZXIy', identityToken: 'idtok', registryToken: 'regtok' }, headers: { authorization: 'Bearer sekrit' } }, 'pulling');
  log.info({ request: { username: 'u', password: 'pw2' }, token: 'tok3' }, 'x');
  const out = lines.join('');
  for (const secret of ['hunter2', 'dTpodW50ZXIy', 'idtok', 'regtok', 'sekrit', 'pw2', 'tok3']) assert.ok(!out.includes(secret), secret);
  assert.ok(out.includes('[redacted]'));
  assert.equal((JSON.parse(lines[0]!) as { auth: string }).auth, '[redacted]', 'a whole auth object is redacted');
  assert.equal((JSON.parse(lines[1]!) as { request: { username: string } }).request.username, 'u', 'non-secret fields kept');
});

test('text format renders level, message and fields on one line', () => {
  const { log, lines } = capture('text');
  log.child({ rpc: 'Version', requestId: 'abc' }).warn({ code: 'NOT_FOUND' }, 'call failed');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\S+ WARN  call failed rpc=Version requestId=abc code=NOT_FOUND\n$/);
});

test('a log filter writes only messages matching it, in children too, and can be changed or cleared while running', () => {
  const lines: string[] = [];
  const filter = new LogFilter('^pulled ');
  const log = createLogger({ level: 'debug', format: 'json', filter, destination: { write: (l: string) => lines.push(l) } });
  const child = log.child({ component: 'image' });
  log.info('pulled busybox');
  child.info({ ref: 'pause' }, 'pulled pause');
  log.warn('container exited');
  child.error(new Error('pulled nothing'));
  const messages = () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  assert.deepEqual(messages(), ['pulled busybox', 'pulled pause', 'pulled nothing']);
  filter.set('exited');
  log.info('pulled again');
  child.warn('container exited');
  filter.set('');
  log.debug('anything');
  assert.deepEqual(messages().slice(3), ['container exited', 'anything']);
  assert.throws(() => filter.set('('), SyntaxError);
});
