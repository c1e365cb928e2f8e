// Registry credentials: the kubelet's AuthConfig (per pull) and a global auth file
// in Docker config.json format ({"auths": {"host[/path]": {"auth": base64(user:pass)}}}).
import * as fs from 'node:fs';
import { errors, errnoOf, messageOf } from '../common/errors';

/** The kubelet's CRI AuthConfig, in cradle's own shape. */
export interface PullAuth {
  username?: string;
  password?: string;
  /** base64("username:password") */
  auth?: string;
  serverAddress?: string;
  /** An OAuth2 refresh token exchanged at the registry's token endpoint. */
  identityToken?: string;
  /** A bearer token sent to the registry as is. */
  registryToken?: string;
}

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

/** Normalises an AuthConfig; undefined when it carries nothing usable. */
export function credentialsFromAuth(auth: PullAuth | undefined): Credentials | undefined {
  if (!auth) return undefined;
  const out: Credentials = {};
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw errors.invalidArgument('auth config: "auth" is not base64 of "username:password"');
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  }
  if (auth.username) out.username = auth.username;
  if (auth.password) out.password = auth.password;
  if (auth.identityToken) out.identityToken = auth.identityToken;
  if (auth.registryToken) out.registryToken = auth.registryToken;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A docker config.json auth file, read at construction and on reload(). */
export class AuthFile {
  private entries = new Map<string, Credentials>();

  constructor(readonly file: string | undefined) {
    this.reload();
  }

  reload(): void {
    this.entries = new Map();
    if (!this.file) return;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw errors.config(this.file, '', messageOf(err));
    }
    let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }> };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      throw errors.config(this.file, '', 'not valid JSON');
    }
    for (const [key, entry] of Object.entries(doc.auths ?? {})) {
      const credentials = credentialsFromAuth({
        ...(entry.auth ? { auth: entry.auth } : {}),
        ...(entry.username ? { username: entry.username } : {}),
        ...(entry.password ? { password: entry.password } : {}),
        ...(entry.identitytoken ? { identityToken: entry.identitytoken } : {}),
        ...(entry.registrytoken ? { registryToken: entry.registrytoken } : {}),
      });
      if (credentials) this.entries.set(normalizeAuthKey(key), credentials);
    }
  }

  /** Most specific entry for registry/repository ("host/ns/repo", then "host/ns", then "host"). */
  lookup(registry: string, repository: string): Credentials | undefined {
    const parts = `${registry}/${repository}`.split('/');
    for (let n = parts.length; n >= 1; n--) {
      const found = this.entries.get(parts.slice(0, n).join('/'));
      if (found) return found;
    }
    return undefined;
  }
}

/** "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/" → "host:5000". */
function normalizeAuthKey(key: string): string {
  let out = key.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  if (out === 'index.docker.io/v1' || out === 'index.docker.io' || out === 'registry-1.docker.io') out = 'docker.io';
  return out;
}
