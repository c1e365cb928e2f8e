// cradle's ImageRecord → the CRI Image message.
import type { Image } from '../../generated/runtime/v1/Image';
import type { ImageRecord } from '../../image';

export function toCriImage(record: ImageRecord): Image {
  return {
    id: record.id,
    repoTags: record.repoTags,
    repoDigests: record.repoDigests,
    size: String(record.size),
    ...(record.uid !== undefined ? { uid: { value: String(record.uid) } } : {}),
    username: record.username ?? '',
    spec: { image: record.id, annotations: {} },
    pinned: record.pinned,
  };
}
