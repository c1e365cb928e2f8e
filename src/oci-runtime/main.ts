// cradle-runtime: an OCI runtime CLI with runc's command line (the subset conmon
// and cri-o use). The same file, run as `__init`, is the container init.
// Modules are required per command: every millisecond of Node start counts here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RuntimeLog as RuntimeLogT } from './log';
import { enableCompileCache } from '../common/compile-cache';

export const VERSION = '0.1.0';

const USAGE = `usage: cradle-runtime [global options] command [options] <container-id>

global options:
  --root DIR            state directory (default /run/cradle-runtime)
  --log FILE            log file (default: none)
  --log-format FORMAT   text (default) or json
  --systemd-cgroup      use the systemd cgroup driver (cgroup v2: a transient scope per container)
  --criu PATH           the criu binary for checkpoint and restore (default: $CRADLE_CRIU, else criu on PATH)
  --debug               debug logging
  --version, -v         print the version

commands:
  create --bundle DIR [--pid-file FILE] [--console-socket SOCK] [--no-pivot] [--no-new-keyring] ID
  start ID
  state ID
  kill [--all|-a] ID [SIGNAL]
  delete [--force|-f] ID
  exec --process FILE [--pid-file FILE] [--detach|-d] [--tty|-t --console-socket SOCK] ID
  exec [options] ID COMMAND [ARGS...]
  ps [--format table|json] ID [PS_ARGS...]
  pause ID | resume ID
  update --resources FILE|- ID
  checkpoint --image-path DIR [--work-path DIR] [--leave-running] [--tcp-established] [--ext-unix-sk]
             [--shell-job] [--file-locks] [--manage-cgroups-mode soft|full|strict|ignore] ID
  restore --image-path DIR [--work-path DIR] --bundle DIR --detach [--pid-file FILE] [--no-pivot]
          [--tcp-established] [--ext-unix-sk] [--shell-job] [--file-locks] [--manage-cgroups-mode MODE] ID
  features
`;

interface Parsed {
  flags: Map<string, string | true>;
  positional: string[];
}

/** Flags that take a value, per command ("" = global). Anything else is boolean. */
const VALUE_FLAGS: Record<string, string[]> = {
  '': ['root', 'log', 'log-format', 'criu', 'rootless'],
  create: ['bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds'],
  run: ['bundle', 'b', 'pid-file', 'console-socket'],
  exec: ['process', 'p', 'pid-file', 'console-socket', 'cwd', 'env', 'e', 'user', 'u', 'cap', 'c', 'preserve-fds', 'process-label', 'apparmor', 'cgroup'],
  ps: ['format', 'f'],
  update: ['resources', 'r', 'memory', 'memory-reservation', 'memory-swap', 'pids-limit', 'cpu-shares', 'cpu-quota', 'cpu-period', 'cpuset-cpus', 'cpuset-mems', 'blkio-weight'],
  kill: [],
  delete: [],
  start: [],
  state: [],
  pause: [],
  resume: [],
  features: [],
  checkpoint: ['image-path', 'work-path', 'manage-cgroups-mode', 'parent-path', 'page-server'],
  restore: ['image-path', 'work-path', 'manage-cgroups-mode', 'bundle', 'b', 'pid-file', 'console-socket'],
};

/** urfave/cli style: -flag and --flag, value as next arg or after "=". Stops at the first positional for global flags. */
function parseFlags(args: string[], valueFlags: string[], stopAtPositional: boolean, stopAfterPositionals = Infinity): { parsed: Parsed; rest: string[] } {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') { i++; break; }
    if (arg.startsWith('-') && arg !== '-' && positional.length < stopAfterPositionals) {
      let name = arg.replace(/^--?/, '');
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
      if (valueFlags.includes(name)) {
        if (value === undefined) {
          value = args[++i];
          if (value === undefined) throw new UsageError(`flag --${name} needs a value`);
        }
        flags.set(name, value);
      } else {
        flags.set(name, value ?? true);
      }
      continue;
    }
    if (stopAtPositional) break;
    positional.push(arg);
    if (positional.length >= stopAfterPositionals) { i++; break; }
  }
  return { parsed: { flags, positional }, rest: args.slice(i) };
}

class UsageError extends Error {}

function str(p: Parsed, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = p.flags.get(n);
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function bool(p: Parsed, ...names: string[]): boolean {
  return names.some((n) => p.flags.has(n) && p.flags.get(n) !== 'false');
}

function needId(p: Parsed, command: string): string {
  const id = p.positional[0];
  if (!id) throw new UsageError(`${command}: container id is required`);
  return id;
}

function out(text: string): void {
  // fd 1 directly: process.stdout is never created (trap 10).
  fs.writeSync(1, text);
}

/** The compile cache saves a few ms per process (every container start runs two). */
export const COMPILE_CACHE_DIR = '/run/cradle-runtime-compile-cache';

export async function main(argv: string[]): Promise<number> {
  enableCompileCache(COMPILE_CACHE_DIR);
  if (argv[0] === '__init') {
    const { runInit } = require('./init') as typeof import('./init');
    runInit();
  }
  const global = parseFlags(argv, VALUE_FLAGS['']!, true);
  const g = global.parsed;
  if (bool(g, 'version', 'v')) {
    out(`cradle-runtime version ${VERSION}\nspec: 1.0.2\nnode: ${process.version}\n`);
    return 0;
  }
  const command = global.rest[0];
  if (!command || bool(g, 'help', 'h') || command === 'help') {
    out(USAGE);
    return command ? 0 : 1;
  }
  const { RuntimeLog } = require('./log') as typeof import('./log');
  const logFormat = str(g, 'log-format') ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, got ${JSON.stringify(logFormat)}`);
  const log: RuntimeLogT = new RuntimeLog(str(g, 'log'), logFormat, bool(g, 'debug'));
  const root = path.resolve(str(g, 'root') ?? '/run/cradle-runtime');
  // runc's --criu: the criu binary for checkpoint and restore.
  const criuPath = str(g, 'criu');
  if (criuPath) process.env.CRADLE_CRIU = criuPath;
  const valueFlags = VALUE_FLAGS[command];
  if (!valueFlags) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  // exec and ps take trailing args after the id that may look like flags.
  const stopAfter = command === 'exec' || command === 'ps' ? 1 : Infinity;
  const { parsed: p, rest } = parseFlags(global.rest.slice(1), valueFlags, false, stopAfter);
  try {
    return await dispatch(command, p, rest, root, log, bool(g, 'systemd-cgroup'));
  } catch (err) {
    log.error((err as Error).message, { command });
    throw err;
  }
}

async function dispatch(command: string, p: Parsed, rest: string[], root: string, log: RuntimeLogT, systemdCgroup: boolean): Promise<number> {
  const cmds = (): typeof import('./commands') => require('./commands') as typeof import('./commands');
  switch (command) {
    case 'create': {
      const { createContainer } = require('./create') as typeof import('./create');
      const bundle = str(p, 'bundle', 'b') ?? process.cwd();
      await createContainer({
        root, id: needId(p, command), bundle, pidFile: str(p, 'pid-file'), consoleSocket: str(p, 'console-socket'),
        noPivot: bool(p, 'no-pivot'), systemdCgroup, initScript: __filename, log,
      });
      return 0;
    }
    case 'start':
      cmds().start(root, needId(p, command), log);
      return 0;
    case 'state': {
      const st = new (cmds().Container)(root, needId(p, command)).state();
      out(JSON.stringify(st, null, 2) + '\n');
      return 0;
    }
    case 'kill':
      cmds().kill(root, needId(p, command), p.positional[1], bool(p, 'all', 'a'));
      return 0;
    case 'delete':
      cmds().del(root, needId(p, command), bool(p, 'force', 'f'), log);
      return 0;
    case 'pause':
    case 'resume':
      cmds().pause(root, needId(p, command), command === 'pause');
      return 0;
    case 'ps':
      out(cmds().ps(root, needId(p, command), str(p, 'format', 'f') ?? 'table', rest));
      return 0;
    case 'update': {
      const { resourcesFromFlags } = require('./update-flags') as typeof import('./update-flags');
      cmds().update(root, needId(p, command), resourcesFromFlags(p.flags));
      return 0;
    }
    case 'checkpoint':
    case 'restore': {
      const criu = require('./criu') as typeof import('./criu');
      const imagePath = str(p, 'image-path');
      if (!imagePath) throw new UsageError(`${command}: --image-path is required`);
      const flags = {
        imagePath, workPath: str(p, 'work-path'), tcpEstablished: bool(p, 'tcp-established'), extUnixSk: bool(p, 'ext-unix-sk'),
        shellJob: bool(p, 'shell-job'), fileLocks: bool(p, 'file-locks'), manageCgroupsMode: str(p, 'manage-cgroups-mode'),
      };
      if (command === 'checkpoint') {
        if (str(p, 'parent-path') || str(p, 'page-server') || bool(p, 'pre-dump') || bool(p, 'lazy-pages')) {
          throw new UsageError('checkpoint: pre-dump, parent images, page servers and lazy pages are not supported');
        }
        await criu.checkpoint({ ...flags, root, id: needId(p, command), leaveRunning: bool(p, 'leave-running'), log });
      } else {
        await criu.restore({
          ...flags, root, id: needId(p, command), bundle: str(p, 'bundle', 'b') ?? process.cwd(), pidFile: str(p, 'pid-file'),
          consoleSocket: str(p, 'console-socket'), detach: bool(p, 'detach', 'd'), noPivot: bool(p, 'no-pivot'), systemdCgroup, log,
        });
      }
      return 0;
    }
    case 'features': {
      const { features } = require('./features') as typeof import('./features');
      out(JSON.stringify(features(), null, 2) + '\n');
      return 0;
    }
    case 'exec': {
      const { execProcess } = require('./exec') as typeof import('./exec');
      return await execProcess({
        root, id: needId(p, command), processFile: str(p, 'process', 'p'), args: rest,
        pidFile: str(p, 'pid-file'), detach: bool(p, 'detach', 'd'), tty: bool(p, 'tty', 't'),
        consoleSocket: str(p, 'console-socket'), cwd: str(p, 'cwd'), env: p.flags.get('env') as string | undefined ?? str(p, 'e'),
        user: str(p, 'user', 'u'), apparmor: str(p, 'apparmor'),
      });
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      // runc prints the bare error on stderr; conmon forwards it to cri-o.
      fs.writeSync(2, `cradle-runtime: ${message}\n`);
      if (err instanceof UsageError) fs.writeSync(2, `run "cradle-runtime --help" for usage\n`);
      process.exit(1);
    },
  );
}
