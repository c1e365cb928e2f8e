// The few OCI distribution API calls the test rig needs, over plain HTTP with
// Node's fetch: monolithic blob upload (POST + PUT), manifest put/get, blob get.
// Deliberately independent of cradle's own puller so tests check one against
// the other.

import { createHash } from 'node:crypto';
import type { RegistryTarget } from './registry';

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `repo:tag`, `repo` or `repo@sha256:…` split into repository and tag/digest. */
export interface ParsedRef {
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseRepoRef(ref: string): ParsedRef {
  const at = ref.indexOf('@');
  if (at >= 0) return { repository: ref.slice(0, at), digest: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref };
}

async function request(target: RegistryTarget, method: string, urlOrPath: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Response> {
  const url = urlOrPath.startsWith('http') ? urlOrPath : `${target.url}${urlOrPath}`;
  const headers: Record<string, string> = { ...target.headers, ...init.headers };
  const reqInit: RequestInit = { method, headers, redirect: 'follow' };
  if (init.body) reqInit.body = init.body;
  return fetch(url, reqInit);
}

async function failure(res: Response, what: string): Promise<Error> {
  const body = await res.text().catch(() => '');
  return new Error(`${what}: HTTP ${res.status} ${body.trim()}`);
}

export async function blobExists(target: RegistryTarget, repository: string, digest: string): Promise<boolean> {
  const res = await request(target, 'HEAD', `/v2/${repository}/blobs/${digest}`);
  await res.arrayBuffer();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await failure(res, `HEAD blob ${digest} in ${repository}`);
}

/** Uploads a blob unless present: POST /blobs/uploads/ then one PUT with ?digest=. */
export async function uploadBlob(target: RegistryTarget, repository: string, data: Uint8Array, digest: string = sha256Digest(data)): Promise<string> {
  if (await blobExists(target, repository, digest)) return digest;
  const start = await request(target, 'POST', `/v2/${repository}/blobs/uploads/`);
  if (start.status !== 202) throw await failure(start, `starting upload of ${digest} to ${repository}`);
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (!location) throw new Error(`registry gave no Location for upload of ${digest} to ${repository}`);
  const putUrl = new URL(location, target.url);
  putUrl.searchParams.set('digest', digest);
  const put = await request(target, 'PUT', putUrl.toString(), {
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
  if (put.status !== 201) throw await failure(put, `uploading blob ${digest} to ${repository}`);
  await put.arrayBuffer();
  return digest;
}

/** PUT a manifest (exact bytes) under a tag or digest; returns the registry's digest for it. */
export async function putManifest(target: RegistryTarget, repository: string, reference: string, mediaType: string, body: Uint8Array): Promise<string> {
  const res = await request(target, 'PUT', `/v2/${repository}/manifests/${reference}`, {
    headers: { 'content-type': mediaType },
    body,
  });
  if (res.status !== 201) throw await failure(res, `putting manifest ${repository}:${reference}`);
  await res.arrayBuffer();
  const expected = sha256Digest(body);
  const digest = res.headers.get('docker-content-digest') ?? expected;
  if (digest !== expected) throw new Error(`registry stored manifest ${repository}:${reference} as ${digest}, expected ${expected}`);
  return digest;
}

export interface FetchedManifest {
  /** The Content-Type the registry answered with. */
  mediaType: string;
  /** Docker-Content-Digest header (the registry's view). */
  digest: string;
  body: Buffer;
}

/** All manifest media types; pass as accept to get whatever is stored. */
export const ALL_MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

export async function getManifest(target: RegistryTarget, repository: string, reference: string, accept: readonly string[] = ALL_MANIFEST_TYPES): Promise<FetchedManifest> {
  const res = await request(target, 'GET', `/v2/${repository}/manifests/${reference}`, {
    headers: { accept: accept.join(', ') },
  });
  if (res.status !== 200) throw await failure(res, `getting manifest ${repository}:${reference}`);
  const body = Buffer.from(await res.arrayBuffer());
  return {
    mediaType: res.headers.get('content-type') ?? '',
    digest: res.headers.get('docker-content-digest') ?? '',
    body,
  };
}

export async function getBlob(target: RegistryTarget, repository: string, digest: string): Promise<Buffer> {
  const res = await request(target, 'GET', `/v2/${repository}/blobs/${digest}`);
  if (res.status !== 200) throw await failure(res, `getting blob ${digest} from ${repository}`);
  return Buffer.from(await res.arrayBuffer());
}
