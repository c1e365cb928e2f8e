// The spec builders, loaded with the first creation or update: they (CDI, seccomp,
// devices, user database) are not on the path to the daemon's socket, and a
// daemon answering Version, Status and lists never needs them.
export function ociConfig(): typeof import('./index') {
  return require('./index') as typeof import('./index');
}
