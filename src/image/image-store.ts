// Image metadata: which images exist (ID = config digest), their names (repo tags
// and repo digests) and their layers. One JSON file, <root>/images.json, replaced
// atomically on every change; configs live in the content store.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import { errors, errnoOf, messageOf } from '../common/errors';

export interface StoredLayer {
  /** Compressed blob digest, size and media type from the manifest. */
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  chainId: string;
}

export interface StoredImage {
  /** Config digest. */
  id: string;
  /** The platform manifest. */
  manifestDigest: string;
  manifestMediaType: string;
  configDigest: string;
  layers: StoredLayer[];
  /** "registry/repository:tag" */
  repoTags: string[];
  /** "registry/repository@digest" (the digest the image was pulled by: the index's for multi-arch images). */
  repoDigests: string[];
  /** Sum of the compressed layer sizes (as containerd reports). */
  size: number;
  pulledAt: string;
}

interface ImagesFile {
  version: 1;
  images: StoredImage[];
}

export class ImageStore {
  private readonly file: string;
  private readonly images = new Map<string, StoredImage>();
  private saving: Promise<void> = Promise.resolve();

  constructor(root: string) {
    this.file = path.join(root, 'images.json');
    this.reload();
  }

  /** Replaces the in-memory state with what is on disk (after a failed save). */
  reload(): void {
    this.images.clear();
    let text: string | undefined;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let doc: ImagesFile;
      try {
        doc = JSON.parse(text) as ImagesFile;
      } catch (err) {
        throw errors.internal(`${this.file}: unreadable image metadata: ${messageOf(err)}`);
      }
      for (const image of doc.images ?? []) this.images.set(image.id, image);
    }
  }

  all(): StoredImage[] {
    return [...this.images.values()];
  }

  get(id: string): StoredImage | undefined {
    return this.images.get(id);
  }

  /** The image holding a repo tag or repo digest name. */
  byName(name: string): StoredImage | undefined {
    for (const image of this.images.values()) {
      if (image.repoTags.includes(name) || image.repoDigests.includes(name)) return image;
    }
    return undefined;
  }

  /** Images whose ID starts with a hex prefix. */
  byIdPrefix(prefix: string): StoredImage[] {
    return this.all().filter((image) => image.id.slice(image.id.indexOf(':') + 1).startsWith(prefix));
  }

  /**
   * Adds or updates an image. A tag moves: any other image holding it loses it
   * (and stays listed, untagged, as docker and cri-o do).
   */
  put(image: StoredImage): StoredImage {
    for (const other of this.images.values()) {
      if (other.id === image.id) continue;
      other.repoTags = other.repoTags.filter((tag) => !image.repoTags.includes(tag));
    }
    const existing = this.images.get(image.id);
    if (existing) {
      existing.repoTags = union(existing.repoTags, image.repoTags);
      existing.repoDigests = union(existing.repoDigests, image.repoDigests);
      return existing;
    }
    this.images.set(image.id, image);
    return image;
  }

  delete(id: string): void {
    this.images.delete(id);
  }

  /** Writes the current state atomically; saves are serialized in call order. */
  save(): Promise<void> {
    const snapshot: ImagesFile = { version: 1, images: this.all() };
    const data = JSON.stringify(snapshot, null, 1);
    this.saving = this.saving.catch(() => undefined).then(() => writeFileAtomic(this.file, data, { mode: 0o600 }));
    return this.saving;
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}
