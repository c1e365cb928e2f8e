// ListImages: every image, or those matching the filter's reference.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { ListImagesRequest__Output } from '../../generated/runtime/v1/ListImagesRequest';
import type { ListImagesResponse } from '../../generated/runtime/v1/ListImagesResponse';
import { toCriImage } from './image-convert';

export const listImages = (services: CradleServices): UnaryRpc<ListImagesRequest__Output, ListImagesResponse> =>
  async (_ctx, request) => {
    const filter = request.filter?.image?.image || undefined;
    return { images: services.images.list(filter).map(toCriImage) };
  };
