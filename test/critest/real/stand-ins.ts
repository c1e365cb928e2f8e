// Files that make busybox-static images behave like the upstream images
// critest v1.26.1 runs (nginx, httpd, nonewprivs, busybox 1.29). Each says
// which critest check it satisfies; nothing here is more than those checks need.
import { entry, type LayerEntry } from '../../helpers/image-builder';

/**
 * Debian's busybox-static has no `pgrep` applet; critest's ExecSync timeout spec
 * runs `sh -c "pgrep sleep || true"` and wants empty stdout and stderr. Matches
 * the command name exactly (pgrep matches a pattern; critest only gives `sleep`).
 */
const PGREP = `#!/bin/sh
found=1
for d in /proc/[0-9]*; do
  [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && { echo "\${d#/proc/}"; found=0; }
done
exit $found
`;

/**
 * Nor `ipcs`; the HostIpc specs look for the id of a segment the host made with
 * ipcmk in `ipcs -m`. util-linux's columns (owner as a uid), read from this
 * IPC namespace's /proc/sysvipc/shm (only the header lines when it has none).
 */
const IPCS = `#!/bin/sh
echo
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch     status"
tail -n +2 /proc/sysvipc/shm | while read -r key shmid perms size cpid lpid nattch uid rest; do
  echo "$key $shmid $uid $perms $size $nattch"
done
echo
`;

/** The stand-in tools every busybox-based critest image carries, in /usr/bin (on the images' PATH). */
export function missingAppletEntries(): LayerEntry[] {
  return [
    entry.dir('usr/bin'),
    entry.file('usr/bin/pgrep', PGREP, { mode: 0o755 }),
    entry.file('usr/bin/ipcs', IPCS, { mode: 0o755 }),
  ];
}

export interface WebServerOptions {
  /** `nginx` or `httpd`: the server's command name, as `pidof` and `/proc/PID/comm` show it. */
  program: 'nginx' | 'httpd';
  port: number;
  /** Document root; its index.html is what GET / answers (critest checks only the 200). */
  docRoot: string;
  /** A line the server logs at start (critest looks for `httpd -D FOREGROUND` in httpd's log). */
  startLine?: string;
}

/**
 * A web server from busybox httpd. The server runs as /usr/sbin/<program>, a
 * symlink to busybox started with argv[0] `httpd` (`exec -a`): the kernel names
 * the process after the file (comm = nginx, so `pidof nginx` finds it) while
 * busybox picks the applet from argv[0].
 *
 * PID 1 is a shell that keeps the server as a child, writes its pid to
 * /var/run/<program>.pid (the HostPID spec reads nginx.pid and looks for it
 * from a host-PID container) and ends it on SIGTERM (httpd as PID 1 would
 * ignore SIGTERM and every stop would wait for SIGKILL). The shell's $0 is
 * nginx's process title, so /proc/1/cmdline contains "master process" when the
 * container has its own PID namespace (ContainerPID spec) and the pause's
 * cmdline does not (PodPID spec).
 */
export function webServerEntrypoint(o: WebServerOptions): string[] {
  const script = [
    o.startLine ? `echo "${o.startLine}" >&2` : '',
    `exec -a httpd /usr/sbin/${o.program} -f -p ${o.port} -h ${o.docRoot} &`,
    'pid=$!',
    `echo "$pid" > /var/run/${o.program}.pid`,
    'trap \'kill "$pid"; wait "$pid"; exit 0\' TERM INT QUIT',
    'wait "$pid"',
  ].filter(Boolean).join('\n');
  return ['/bin/sh', '-c', script, `${o.program}: master process ${o.program} -g daemon off;`];
}

export function webServerEntries(o: WebServerOptions): LayerEntry[] {
  const root = o.docRoot.replace(/^\/+/, '');
  const parents = root.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  return [
    ...parents.map((dir) => entry.dir(dir)),
    entry.file(`${root}/index.html`, `<html><body><h1>Welcome to ${o.program}!</h1></body></html>\n`),
    entry.dir('usr/sbin'),
    entry.symlink(`usr/sbin/${o.program}`, '/bin/busybox'),
    entry.dir('var/run'),
  ];
}

/**
 * nonewprivs: the upstream image runs a setuid-root program as uid 1000 that
 * prints `Effective uid: N`; N is 0 unless no_new_privs is set. Busybox drops
 * a setuid bit for its applets unless /etc/busybox.conf (root-owned, not
 * writable by others) grants it, so the image has a setuid-root copy of
 * busybox named `id` and a busybox.conf letting `id` keep it.
 */
export const NONEWPRIVS_ID = '/usr/local/bin/id';

export function noNewPrivsEntries(busybox: Buffer): LayerEntry[] {
  return [
    entry.dir('usr/local'),
    entry.dir('usr/local/bin'),
    entry.file(NONEWPRIVS_ID.slice(1), busybox, { mode: 0o4755 }),
    entry.file('etc/busybox.conf', '[SUID]\nid = ssx root.root\n', { mode: 0o600 }),
  ];
}

export const NONEWPRIVS_ENTRYPOINT = ['/bin/sh', '-c', `echo "Effective uid: $(${NONEWPRIVS_ID} -u)"`];

/**
 * The pause: as the rig's (test/helpers/fixture-images.ts PAUSE_SCRIPT, PID 1
 * exiting 0 on SIGTERM, reaping orphans) but its sleeping child is named
 * pause-sleep, not sleep: containers share the pause's PID namespace and
 * critest's ExecSync timeout spec wants `pgrep sleep` to find nothing once its
 * own `sleep 4321` is killed.
 */
export const PAUSE_ENTRIES: readonly LayerEntry[] = [
  entry.dir('usr/sbin'),
  entry.symlink('usr/sbin/pause-sleep', '/bin/busybox'),
  entry.file('pause', '#!/bin/sh\ntrap "exit 0" TERM INT\nwhile :; do exec -a sleep /usr/sbin/pause-sleep 2147483647 & wait $!; done\n', { mode: 0o755 }),
];
