// Every image critest v1.26.1 (pkg/validate, pkg/framework) pulls, under the
// name critest uses, built from busybox-static by the test rig and pushed to
// the fixture registry at the path the runtime's mirror maps that name to
// (`registry.k8s.io/a/b:t` → `<fixture>/a/b:t`).
//
// The one image that cannot be provided: `test-image-digest@sha256:9700f9…`.
// Its digest is that of upstream's manifest bytes, which no offline build can
// reproduce; run.ts skips its spec by default.
import * as fs from 'node:fs';
import {
  BUSYBOX_BINARY, busyboxImage, entry, pushImage, userImage,
  type BusyboxImageOptions, type ImageSpec, type LayerSpec,
} from '../../helpers/image-builder';
import type { RegistryTarget } from '../../helpers/registry';
import {
  missingAppletEntries, noNewPrivsEntries, PAUSE_ENTRIES, NONEWPRIVS_ENTRYPOINT, webServerEntries, webServerEntrypoint, type WebServerOptions,
} from './stand-ins';

/** Registries whose names critest uses; the runtime mirrors each to the fixture registry. */
export const MIRRORED_REGISTRIES = ['registry.k8s.io', 'gcr.io'] as const;

/** The pause image the runtime is configured with, pulled through the mirror like critest's images. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.9';

const E2E = 'registry.k8s.io/e2e-test-images/';
const CRI_TOOLS = 'gcr.io/k8s-staging-cri-tools/';

export interface CritestImage {
  /** The name as critest (or the runtime config) pulls it. */
  name: string;
  /** What critest checks about it. */
  purpose: string;
  spec: () => ImageSpec;
}

/** Busybox like the upstream e2e busybox (plus the applets Debian's busybox-static lacks), docker schema2 as upstream. */
function critestBusybox(opts: BusyboxImageOptions = {}): ImageSpec {
  return busyboxImage({ format: 'docker', ...opts, extraLayers: [{ entries: missingAppletEntries() }, ...(opts.extraLayers ?? [])] });
}

/** Busybox plus an empty file named after the image: cri-tools' images/image-test (`ADD ${TEST}`), so each is a distinct image. */
function markedBusybox(marker: string): ImageSpec {
  return critestBusybox({ extraLayers: [{ entries: [entry.file(marker, '')] }] });
}

function userBusybox(user: string): ImageSpec {
  return critestBusybox({ config: { User: user } });
}

function webServer(o: WebServerOptions): ImageSpec {
  const layer: LayerSpec = { entries: webServerEntries(o) };
  return critestBusybox({
    extraLayers: [layer],
    config: { Entrypoint: webServerEntrypoint(o), Cmd: undefined, ExposedPorts: [`${o.port}/tcp`] },
  });
}

export const CRITEST_IMAGES: readonly CritestImage[] = [
  {
    name: PAUSE_IMAGE, purpose: 'the runtime\'s pause image (no process named sleep: critest pgreps sleep in pods sharing its PID namespace)',
    spec: () => busyboxImage({ format: 'docker', extraLayers: [{ entries: PAUSE_ENTRIES }], config: { Entrypoint: ['/pause'], Cmd: undefined } }),
  },
  {
    name: `${E2E}busybox:1.29-2`,
    purpose: 'default container image: sh, echo, sleep, top, id, ls, touch, hostname, netstat, ping, brctl, pidof, pgrep, ipcs; nobody in /etc/passwd',
    spec: () => critestBusybox(),
  },
  {
    name: `${E2E}nginx:1.14-2`,
    purpose: 'web server on :80 (GET / → 200); process named nginx, /var/run/nginx.pid, "master process" in its PID 1 cmdline',
    spec: () => webServer({ program: 'nginx', port: 80, docRoot: '/usr/share/nginx/html' }),
  },
  {
    name: `${E2E}httpd:2.4.39-4`,
    purpose: 'web server on :80; logs "httpd -D FOREGROUND"; echo',
    spec: () => webServer({
      program: 'httpd', port: 80, docRoot: '/usr/local/apache2/htdocs',
      startLine: 'AH00094: Command line: \'httpd -D FOREGROUND\'',
    }),
  },
  {
    name: `${E2E}nonewprivs:1.3`,
    purpose: 'prints "Effective uid: N" from a setuid-root program (0 without no_new_privs)',
    spec: () => critestBusybox({
      extraLayers: [{ entries: noNewPrivsEntries(fs.readFileSync(BUSYBOX_BINARY)) }],
      config: { Entrypoint: NONEWPRIVS_ENTRYPOINT, Cmd: undefined },
    }),
  },
  {
    name: `${CRI_TOOLS}hostnet-nginx-amd64`,
    purpose: 'web server on :12003 in the host network (portforward in host network)',
    spec: () => webServer({ program: 'nginx', port: 12003, docRoot: '/usr/share/nginx/html' }),
  },
  { name: `${CRI_TOOLS}test-image-user-uid`, purpose: 'image User 1002 (ImageStatus uid)', spec: () => userBusybox('1002') },
  { name: `${CRI_TOOLS}test-image-user-username`, purpose: 'image User www-data (ImageStatus username)', spec: () => userBusybox('www-data') },
  { name: `${CRI_TOOLS}test-image-user-uid-group`, purpose: 'image User 1003:1004', spec: () => userBusybox('1003:1004') },
  { name: `${CRI_TOOLS}test-image-user-username-group`, purpose: 'image User www-data:1004', spec: () => userBusybox('www-data:1004') },
  {
    name: `${CRI_TOOLS}test-image-predefined-group`,
    purpose: 'User 1000 (default-user), member of group 50000 in /etc/group: `id -G` = "1000 1234 50000" with supplemental group 1234',
    spec: () => userImage({
      format: 'docker',
      users: [{ name: 'default-user', uid: 1000, gid: 1000 }],
      groups: [{ name: 'default-user', gid: 1000 }, { name: 'group-defined-in-image', gid: 50000, members: ['default-user'] }],
      user: '1000',
      extraLayers: [{ entries: missingAppletEntries() }],
    }),
  },
  { name: `${CRI_TOOLS}test-image-latest`, purpose: 'pulled without a tag (RepoTags [..:latest])', spec: () => markedBusybox('test-image-latest') },
  { name: `${CRI_TOOLS}test-image-tag:test`, purpose: 'pulled with a tag', spec: () => markedBusybox('test') },
  { name: `${CRI_TOOLS}test-image-tag:all`, purpose: 'ImageStatus by id, tag and digest all equal', spec: () => markedBusybox('all') },
  ...[1, 2, 3].map((n): CritestImage => ({
    name: `${CRI_TOOLS}test-image-${n}:latest`, purpose: 'three distinct images (ListImages)', spec: () => markedBusybox(`test-image-${n}`),
  })),
  ...[1, 2, 3].map((n): CritestImage => ({
    name: `${CRI_TOOLS}test-image-tags:${n}`, purpose: 'one image under three tags (ListImages RepoTags)', spec: () => markedBusybox('same-image'),
  })),
];

/** `registry.k8s.io/a/b:t` → `a/b:t` (`:latest` when untagged): the repository path under the mirror. */
export function mirrorPath(name: string): string {
  const registry = MIRRORED_REGISTRIES.find((r) => name.startsWith(`${r}/`));
  if (!registry) throw new Error(`${name} is not under a mirrored registry`);
  const repoRef = name.slice(registry.length + 1);
  return /:[^/]+$/.test(repoRef) ? repoRef : `${repoRef}:latest`;
}

/** Builds and pushes every image; returns how many were pushed. */
export async function pushCritestImages(registry: RegistryTarget): Promise<number> {
  for (const image of CRITEST_IMAGES) await pushImage(registry, mirrorPath(image.name), image.spec());
  return CRITEST_IMAGES.length;
}
