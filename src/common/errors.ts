// The error catalogue: every error cradle reports carries a stable code (for logs,
// metrics and tests) and a kind. Only src/cri-server/status.ts turns a kind into a
// gRPC status code, so inner layers never import gRPC.

/** What went wrong, in the vocabulary of gRPC status codes but without depending on gRPC. */
export type ErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'resource-exhausted'
  | 'permission-denied'
  | 'deadline-exceeded'
  | 'unavailable'
  | 'unimplemented'
  | 'aborted'
  | 'cancelled'
  | 'internal';

const BRAND = Symbol.for('cradle.error');

/** A value quoted in a message, cut short: a 1 MiB id must not travel back in a gRPC status. */
export function quoted(value: string, max = 200): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…(${value.length} chars)` : value);
}

export class CradleError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly [BRAND] = true;

  constructor(code: string, kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CradleError';
    this.code = code;
    this.kind = kind;
  }
}

/** Realm-safe check (errors may cross module copies in tests). */
export function isCradleError(err: unknown): err is CradleError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

export interface ErrorFactory<A extends unknown[]> {
  (...args: A): CradleError;
  readonly code: string;
  readonly kind: ErrorKind;
  /** True when err was made by this factory (or wraps one made by it). */
  is(err: unknown): err is CradleError;
}

function define<A extends unknown[]>(code: string, kind: ErrorKind, format: (...args: A) => string): ErrorFactory<A> {
  const factory = (...args: A): CradleError => new CradleError(code, kind, format(...args));
  return Object.assign(factory, {
    code,
    kind,
    is: (err: unknown): err is CradleError => isCradleError(err) && err.code === code,
  });
}

/**
 * The catalogue. Codes are stable: tests, metrics labels and users' scripts
 * may match on them. Add entries; never rename one.
 */
export const errors = {
  // Requests
  missingField: define('CRADLE_ERR_MISSING_FIELD', 'invalid-argument', (field: string) => `${field} is required`),
  invalidArgument: define('CRADLE_ERR_INVALID_ARGUMENT', 'invalid-argument', (message: string) => message),
  unimplemented: define('CRADLE_ERR_UNIMPLEMENTED', 'unimplemented', (rpc: string) => `${rpc} is not implemented by cradle`),
  notFound: define('CRADLE_ERR_NOT_FOUND', 'not-found', (what: string, id: string) => `${what} ${quoted(id)} not found`),
  alreadyExists: define('CRADLE_ERR_ALREADY_EXISTS', 'already-exists', (message: string) => message),
  failedPrecondition: define('CRADLE_ERR_FAILED_PRECONDITION', 'failed-precondition', (message: string) => message),
  resourceExhausted: define('CRADLE_ERR_RESOURCE_EXHAUSTED', 'resource-exhausted', (message: string) => message),
  deadlineExceeded: define('CRADLE_ERR_DEADLINE_EXCEEDED', 'deadline-exceeded', (message: string) => message),
  cancelled: define('CRADLE_ERR_CANCELLED', 'cancelled', (message: string) => message),
  unavailable: define('CRADLE_ERR_UNAVAILABLE', 'unavailable', (message: string) => message),
  internal: define('CRADLE_ERR_INTERNAL', 'internal', (message: string) => message),

  // Daemon and configuration
  config: define('CRADLE_ERR_CONFIG', 'invalid-argument', (source: string, key: string, problem: string) =>
    `${source}: ${key}: ${problem}`),
  usage: define('CRADLE_ERR_USAGE', 'invalid-argument', (message: string) => message),
  socketInUse: define('CRADLE_ERR_SOCKET_IN_USE', 'unavailable', (path: string) =>
    `another cradled is already serving ${path}; stop it first or choose another --api-listen`),

  // Images (registry client, store)
  imageNotFound: define('CRADLE_ERR_IMAGE_NOT_FOUND', 'not-found', (ref: string) => `image ${JSON.stringify(ref)} not found`),
  registry: define('CRADLE_ERR_REGISTRY', 'unavailable', (registry: string, problem: string) => `registry ${registry}: ${problem}`),
  registryAuth: define('CRADLE_ERR_REGISTRY_AUTH', 'permission-denied', (registry: string, problem: string) =>
    `registry ${registry}: authentication failed: ${problem}`),
  digestMismatch: define('CRADLE_ERR_DIGEST_MISMATCH', 'failed-precondition', (what: string, expected: string, actual: string) =>
    `${what}: digest mismatch: expected ${expected}, got ${actual}`),
  unsupportedMediaType: define('CRADLE_ERR_UNSUPPORTED_MEDIA_TYPE', 'failed-precondition', (what: string, mediaType: string) =>
    `${what}: unsupported media type ${JSON.stringify(mediaType)}`),
  pullStalled: define('CRADLE_ERR_PULL_STALLED', 'deadline-exceeded', (what: string, seconds: number) =>
    `${what}: no progress for ${seconds}s, pull aborted`),
  hostileLayer: define('CRADLE_ERR_HOSTILE_LAYER', 'failed-precondition', (layer: string, entry: string, problem: string) =>
    `layer ${layer}: entry ${JSON.stringify(entry)}: ${problem}`),

  // Runtime, sandboxes, containers
  runtime: define('CRADLE_ERR_RUNTIME', 'internal', (message: string) => message),
  network: define('CRADLE_ERR_NETWORK', 'unavailable', (message: string) => message),

  // CNI (src/cni)
  cniConfig: define('CRADLE_ERR_CNI_CONFIG', 'failed-precondition', (file: string, problem: string) =>
    `CNI config ${file}: ${problem}`),
  cniNotReady: define('CRADLE_ERR_CNI_NOT_READY', 'unavailable', (problem: string) =>
    `CNI network not ready: ${problem}`),
  cniPluginNotFound: define('CRADLE_ERR_CNI_PLUGIN_NOT_FOUND', 'failed-precondition', (type: string, dirs: readonly string[]) =>
    `CNI plugin ${JSON.stringify(type)} not found in ${dirs.join(', ')}`),
  cniPlugin: define('CRADLE_ERR_CNI_PLUGIN', 'internal', (plugin: string, command: string, network: string, problem: string) =>
    `CNI plugin ${plugin} failed ${command} on network ${JSON.stringify(network)}: ${problem}`),
  cniTimeout: define('CRADLE_ERR_CNI_TIMEOUT', 'deadline-exceeded', (plugin: string, command: string, network: string, ms: number) =>
    `CNI plugin ${plugin} ${command} on network ${JSON.stringify(network)} did not finish within ${ms} ms and was killed`),

  // OCI spec from CRI (src/runtime/oci-config): a CRI request field that cannot be turned into a spec.
  // `field` is the CRI field path, e.g. config.linux.securityContext.seccomp.localhostRef.
  invalidField: define('CRADLE_ERR_INVALID_FIELD', 'invalid-argument', (field: string, problem: string) =>
    `${field}: ${problem}`),

  // CDI devices (src/runtime/cdi): a device no spec defines, or edits that cannot be applied.
  cdi: define('CRADLE_ERR_CDI', 'invalid-argument', (problem: string) => `CDI device injection failed: ${problem}`),

  // stats (src/stats): the cgroup of a container or pod sandbox is gone (stopped, removed).
  cgroupNotFound: define('CRADLE_ERR_CGROUP_NOT_FOUND', 'not-found', (dir: string) => `cgroup ${dir} not found`),

  // the filesystem under cradle's state (ENOSPC/EDQUOT, EROFS from any layer)
  noSpace: define('CRADLE_ERR_NO_SPACE', 'resource-exhausted', (message: string) => message),
  readOnlyFilesystem: define('CRADLE_ERR_READ_ONLY_FS', 'failed-precondition', (message: string) => message),
} as const;

/** The catalogue entry for a system error that says something to the caller (a full or read-only disk). */
function systemErrorFactory(err: unknown): ErrorFactory<[string]> | undefined {
  switch (errnoOf(err)) {
    case 'ENOSPC': case 'EDQUOT': return errors.noSpace;
    case 'EROFS': return errors.readOnlyFilesystem;
    default: return undefined;
  }
}

/**
 * Adds context to an error on its way up (as cri-o's fmt.Errorf("...: %w")).
 * The code and kind of a CradleError are kept; a full or read-only disk gets its
 * own; anything else becomes internal.
 */
export function withContext(err: unknown, context: string): CradleError {
  if (isCradleError(err)) {
    return new CradleError(err.code, err.kind, `${context}: ${err.message}`, { cause: err });
  }
  const factory = systemErrorFactory(err) ?? errors.internal;
  return new CradleError(factory.code, factory.kind, `${context}: ${messageOf(err)}`, { cause: err });
}

/** A system error as its catalogue error (a full or read-only disk), else internal. */
export function fromSystemError(err: unknown): CradleError {
  return (systemErrorFactory(err) ?? errors.internal)(messageOf(err));
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** errno code of a Node system error, if any ('ENOENT', ...). */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
