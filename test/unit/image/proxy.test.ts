// Proxy selection from the environment, checked against the cases of Go's
// golang.org/x/net/http/httpproxy tests (the semantics containerd and cri-o have).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyConfig } from '../../../src/image/proxy';

function via(env: Record<string, string>, url: string): string | undefined {
  return new ProxyConfig(env).proxyFor(new URL(url))?.href;
}

test('HTTPS_PROXY for https, HTTP_PROXY for http, upper case first, bare host:port is http://', () => {
  assert.equal(via({ HTTPS_PROXY: 'http://p:3128' }, 'https://r.example/v2/'), 'http://p:3128/');
  assert.equal(via({ HTTPS_PROXY: 'http://p:3128' }, 'http://r.example/v2/'), undefined, 'no fallback from http to HTTPS_PROXY');
  assert.equal(via({ HTTP_PROXY: 'p:3128' }, 'https://r.example/v2/'), undefined, 'no fallback from https to HTTP_PROXY');
  assert.equal(via({ HTTP_PROXY: 'p:3128' }, 'http://r.example/v2/'), 'http://p:3128/');
  assert.equal(via({ https_proxy: 'lower:1', HTTPS_PROXY: 'upper:2' }, 'https://r.example/'), 'http://upper:2/');
  assert.equal(via({ https_proxy: 'lower:1', HTTPS_PROXY: '' }, 'https://r.example/'), 'http://lower:1/', 'an empty upper-case value does not count');
  assert.equal(via({ HTTPS_PROXY: 'https://user:pw@p:443' }, 'https://r.example/'), 'https://user:pw@p/');
});

test('localhost and loopback IPs never use a proxy', () => {
  const env = { HTTPS_PROXY: 'p:1', HTTP_PROXY: 'p:1' };
  for (const url of ['https://localhost/', 'http://localhost:5000/', 'https://127.0.0.1:5000/', 'https://127.1.2.3/', 'https://[::1]:5000/', 'http://[::ffff:127.0.0.1]/']) {
    assert.equal(via(env, url), undefined, url);
  }
  assert.equal(via(env, 'https://localhost.example/'), 'http://p:1/', 'only the exact name localhost');
  assert.equal(via(env, 'https://10.0.0.1/'), 'http://p:1/');
});

test('NO_PROXY: domains with subdomains, leading dot and *. for subdomains only, ports, IPs, CIDRs, *', () => {
  const check = (noProxy: string, url: string, proxied: boolean) =>
    assert.equal(via({ HTTPS_PROXY: 'p:1', HTTP_PROXY: 'p:1', NO_PROXY: noProxy }, url) !== undefined, proxied, `NO_PROXY=${noProxy} ${url}`);
  check('foo.com', 'https://foo.com/', false);
  check('foo.com', 'https://bar.foo.com/', false);
  check('foo.com', 'https://barfoo.com/', true);
  check('.foo.com', 'https://foo.com/', true);
  check('.foo.com', 'https://bar.foo.com/', false);
  check('*.foo.com', 'https://foo.com/', true);
  check('*.foo.com', 'https://x.foo.com/', false);
  check('FOO.com', 'https://foo.COM/', false);
  check('foo.com:443', 'https://foo.com/', false);
  check('foo.com:443', 'http://foo.com/', true, );
  check('foo.com:5000', 'https://foo.com:5000/', false);
  check('foo.com:5000', 'https://foo.com:5001/', true);
  check(' a.com , foo.com ', 'https://foo.com/', false);
  check('10.1.2.3', 'https://10.1.2.3:5000/', false);
  check('10.1.2.3:5000', 'https://10.1.2.3:5000/', false);
  check('10.1.2.3:5000', 'https://10.1.2.3:5001/', true);
  check('10.0.0.0/8', 'https://10.200.1.1/', false);
  check('10.0.0.0/8', 'https://11.0.0.1/', true);
  check('fd00::/8', 'https://[fd00::2]/', false);
  check('[fd00::2]:5000', 'https://[fd00::2]:5000/', false);
  check('10.0.0.0/8', 'https://ten.example/', true, );
  check('10.1.2.3', 'https://foo.com/', true);
  check('1.2.3.4.example', 'https://1.2.3.4/', true);
  check('*', 'https://anything.example/', false);
  check('a.com,*', 'http://10.1.1.1/', false);
  check(':5000', 'https://foo.com:5000/', true);
});

test('HTTP_PROXY is refused in a CGI environment (REQUEST_METHOD set)', () => {
  const config = new ProxyConfig({ HTTP_PROXY: 'p:1', HTTPS_PROXY: 'p:1', REQUEST_METHOD: 'GET' });
  assert.throws(() => config.proxyFor(new URL('http://r.example/')), /CGI/);
  assert.equal(config.proxyFor(new URL('https://r.example/'))?.host, 'p:1');
});

test('SOCKS proxies are refused clearly rather than spoken to as HTTP', () => {
  assert.throws(() => new ProxyConfig({ HTTPS_PROXY: 'socks5://p:1080' }).proxyFor(new URL('https://r.example/')), /socks5:\/\/ proxies are not supported/);
  assert.equal(new ProxyConfig({ HTTPS_PROXY: 'socks5://p:1080' }).proxyFor(new URL('https://localhost/')), undefined);
});
