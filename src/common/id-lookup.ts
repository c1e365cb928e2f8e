// Lookup by full id or by a unique prefix (crictl and users pass short ids), as
// cri-o's truncindex: NOT_FOUND when nothing or more than one object matches.
import { errors } from './errors';

/** Shortest prefix accepted, so a stray "a" never matches a random object. */
const MIN_PREFIX = 3;

export function findByIdOrPrefix<T extends { id: string }>(items: ReadonlyMap<string, T>, idOrPrefix: string, what: string): T {
  const exact = items.get(idOrPrefix);
  if (exact) return exact;
  const matches = idOrPrefix.length >= MIN_PREFIX ? [...items.values()].filter((item) => item.id.startsWith(idOrPrefix)) : [];
  if (matches.length === 1) return matches[0]!;
  throw errors.notFound(what, idOrPrefix);
}
