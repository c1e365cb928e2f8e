// The Stream* RPCs send their items in chunks, as cri-o does (3000 per message),
// always at least one message so the client sees an empty list as such.
export const STREAM_CHUNK_SIZE = 3000;

export function* chunks<T>(items: T[], size = STREAM_CHUNK_SIZE): Generator<T[]> {
  if (items.length === 0) {
    yield [];
    return;
  }
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
