// Image references in the docker/distribution grammar: [domain/]path[:tag][@digest].
// Parsing is separate from normalisation: a short name ("busybox") has no domain
// until the registries configuration says where short names come from.
import { errors } from '../common/errors';

/** A reference as written, before short-name resolution. */
export interface ParsedReference {
  /** Registry host[:port] when the reference names one explicitly. */
  domain?: string;
  /** Repository path without the domain ("library/busybox", "busybox"). */
  path: string;
  tag?: string;
  digest?: string;
}

/** A fully qualified reference: always a registry, and a tag or a digest. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const KNOWN_DIGESTS: Record<string, number> = { sha256: 64, sha512: 128 };
const NAME_MAX = 255;

/** Validates a digest string ("sha256:<64 hex>"); only algorithms cradle can verify. */
export function validateDigest(digest: string, what = 'digest'): string {
  if (!DIGEST.test(digest)) throw errors.invalidArgument(`${what} ${JSON.stringify(digest)} is not a valid digest`);
  const [algorithm, hex] = digest.split(':', 2) as [string, string];
  const length = KNOWN_DIGESTS[algorithm];
  if (length === undefined) throw errors.invalidArgument(`${what} ${JSON.stringify(digest)}: unsupported digest algorithm ${algorithm}`);
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    throw errors.invalidArgument(`${what} ${JSON.stringify(digest)}: expected ${length} lowercase hex characters`);
  }
  return digest;
}

export function isDigest(value: string): boolean {
  try {
    validateDigest(value);
    return true;
  } catch {
    return false;
  }
}

/** Parses a reference as written. Throws invalid-argument naming the reference. */
export function parseReference(input: string): ParsedReference {
  const bad = (why: string) => errors.invalidArgument(`invalid image reference ${JSON.stringify(input)}: ${why}`);
  if (input.length === 0) throw bad('empty');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      validateDigest(digest);
    } catch {
      throw bad(`bad digest ${JSON.stringify(digest)}`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`bad tag ${JSON.stringify(tag)}`);
  }
  let domain: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      rest = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw bad(`bad registry host ${JSON.stringify(domain)}`);
    }
  }
  if (rest.length === 0) throw bad('empty repository name');
  for (const component of rest.split('/')) {
    if (component !== component.toLowerCase()) throw bad('repository name must be lowercase');
    if (!PATH_COMPONENT.test(component)) throw bad(`bad path component ${JSON.stringify(component)}`);
  }
  if ((domain ? domain.length + 1 : 0) + rest.length > NAME_MAX) throw bad(`name longer than ${NAME_MAX} characters`);
  const parsed: ParsedReference = { path: rest };
  if (domain !== undefined) parsed.domain = domain;
  if (tag !== undefined) parsed.tag = tag;
  if (digest !== undefined) parsed.digest = digest;
  return parsed;
}

/** True when the reference names no registry (it needs short-name resolution). */
export function isShortName(parsed: ParsedReference): boolean {
  return parsed.domain === undefined;
}

/**
 * Qualifies a parsed reference with a registry: docker.io gets its "library/"
 * namespace for one-component names, and a reference with neither tag nor digest
 * gets "latest" (as docker and cri-o do).
 */
export function qualify(parsed: ParsedReference, registry: string = parsed.domain ?? DOCKER_HUB): ImageReference {
  let host = registry;
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = DOCKER_HUB;
  let repository = parsed.path;
  if (host === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  const ref: ImageReference = { registry: host, repository };
  if (parsed.digest !== undefined) ref.digest = parsed.digest;
  if (parsed.tag !== undefined) ref.tag = parsed.tag;
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = 'latest';
  return ref;
}

/** "registry/repository" */
export function repoName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The canonical string: registry/repository[:tag][@digest]. */
export function formatReference(ref: ImageReference): string {
  let out = repoName(ref);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** "registry/repository:tag" as CRI repo_tags lists it, or undefined for digest-only refs. */
export function tagName(ref: ImageReference): string | undefined {
  return ref.tag === undefined ? undefined : `${repoName(ref)}:${ref.tag}`;
}

/** "registry/repository@digest" as CRI repo_digests lists it. */
export function digestName(ref: ImageReference, digest: string): string {
  return `${repoName(ref)}@${digest}`;
}
