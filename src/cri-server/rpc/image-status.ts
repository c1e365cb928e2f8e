// ImageStatus: one image by ID, tag or digest; no image (and no error) when it is
// absent, as the CRI requires. Verbose adds the image config as JSON.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ImageStatusRequest__Output } from '../../generated/runtime/v1/ImageStatusRequest';
import type { ImageStatusResponse } from '../../generated/runtime/v1/ImageStatusResponse';
import { requireString, requireValue } from '../validate';
import { toCriImage } from './image-convert';

export const imageStatus = (services: CradleServices): UnaryRpc<ImageStatusRequest__Output, ImageStatusResponse> =>
  async (_ctx, request) => {
    const ref = requireString(requireValue(request.image, 'image').image, 'image.image');
    const record = services.images.status(ref);
    if (!record) return {};
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.info = JSON.stringify({ imageConfig: record.config, manifestDigest: record.manifestDigest, chainIds: record.chainIds });
    }
    return { image: toCriImage(record), info };
  };
