// StreamImages: ListImages in chunks, for nodes with many images.
import type { ServerStreamRpc } from '../handler';
import type { CradleServices } from '../services';
import type { StreamImagesRequest__Output } from '../../generated/runtime/v1/StreamImagesRequest';
import type { StreamImagesResponse } from '../../generated/runtime/v1/StreamImagesResponse';
import { toCriImage } from './image-convert';
import { chunks } from './stream-chunks';

export const streamImages = (services: CradleServices): ServerStreamRpc<StreamImagesRequest__Output, StreamImagesResponse> =>
  async function* (_ctx, request) {
    const filter = request.filter?.image?.image || undefined;
    for (const images of chunks(services.images.list(filter).map(toCriImage))) yield { images };
  };
