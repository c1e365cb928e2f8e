// Command line, environment and working directory from the image config and the CRI
// request, following the Kubernetes rules (kubernetes.io "Define a Command and Arguments").
import * as path from 'node:path';
import { errors } from '../../common/errors';
import type { KeyValue__Output } from '../../generated/runtime/v1/KeyValue';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * | CRI command | CRI args | result                      |
 * |-------------|----------|-----------------------------|
 * | –           | –        | image Entrypoint + Cmd      |
 * | set         | –        | command (image Cmd ignored) |
 * | –           | set      | image Entrypoint + args     |
 * | set         | set      | command + args              |
 */
export function mergeArgs(
  command: readonly string[],
  args: readonly string[],
  entrypoint: readonly string[] | null | undefined,
  cmd: readonly string[] | null | undefined,
): string[] {
  let result: string[];
  if (command.length > 0) result = [...command, ...args];
  else if (args.length > 0) result = [...(entrypoint ?? []), ...args];
  else result = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (result.length === 0 || result[0] === '') {
    throw errors.invalidField('config.command', 'no command specified: neither the request nor the image gives one');
  }
  return result;
}

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

function valueText(value: KeyValue__Output['value'] | string): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}

export interface EnvExtras {
  hostname?: string;
  home?: string;
  tty?: boolean;
}

/**
 * Image env, then CRI envs (a CRI variable replaces the image's in place, new ones are
 * appended in request order). PATH defaults when the image has none; HOSTNAME, HOME and
 * TERM (tty only) are added when neither set them, as cri-o does.
 */
export function mergeEnv(imageEnv: readonly string[] | null | undefined, envs: readonly { key: string; value: KeyValue__Output['value'] | string }[], extras: EnvExtras = {}): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  const put = (key: string, entry: string) => {
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, out.length);
      out.push(entry);
    } else {
      out[at] = entry;
    }
  };
  for (const e of imageEnv ?? []) if (e !== '') put(keyOf(e), e);
  envs.forEach((kv, i) => {
    if (kv.key === '' || kv.key.includes('=')) {
      throw errors.invalidField(`config.envs[${i}].key`, `invalid environment variable name ${JSON.stringify(kv.key)}`);
    }
    put(kv.key, `${kv.key}=${valueText(kv.value)}`);
  });
  const addDefault = (key: string, entry: string) => {
    if (!index.has(key)) put(key, entry);
  };
  addDefault('PATH', DEFAULT_PATH);
  if (extras.tty) addDefault('TERM', 'TERM=xterm');
  if (extras.hostname) addDefault('HOSTNAME', `HOSTNAME=${extras.hostname}`);
  if (extras.home) addDefault('HOME', `HOME=${extras.home}`);
  return out;
}

/** CRI working_dir, else the image's WorkingDir, else '/'. A relative image WorkingDir is taken from '/'. */
export function resolveCwd(criWorkingDir: string, imageWorkingDir: string | undefined): string {
  if (criWorkingDir !== '') {
    if (!criWorkingDir.startsWith('/')) {
      throw errors.invalidField('config.workingDir', `${JSON.stringify(criWorkingDir)} is not an absolute path`);
    }
    return path.posix.normalize(criWorkingDir);
  }
  if (imageWorkingDir) return path.posix.normalize('/' + imageWorkingDir);
  return '/';
}
