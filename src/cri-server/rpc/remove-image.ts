// RemoveImage: by ID (all its names), tag or digest (that name only); removing an
// absent image is not an error, as the CRI requires.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { RemoveImageRequest__Output } from '../../generated/runtime/v1/RemoveImageRequest';
import type { RemoveImageResponse } from '../../generated/runtime/v1/RemoveImageResponse';
import { requireString, requireValue } from '../validate';

export const removeImage = (services: CradleServices): UnaryRpc<RemoveImageRequest__Output, RemoveImageResponse> =>
  async (ctx, request) => {
    const ref = requireString(requireValue(request.image, 'image').image, 'image.image');
    await services.images.remove(ref);
    ctx.log.info({ image: ref }, 'removed image');
    return {};
  };
