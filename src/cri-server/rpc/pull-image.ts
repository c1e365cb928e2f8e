// PullImage: fetches an image (through mirrors, with the kubelet's credentials or
// the global auth file) into the store; answers with the image ID.
import type { UnaryRpc } from '../handler';
import type { CradleServices } from '../services';
import type { PullImageRequest__Output } from '../../generated/runtime/v1/PullImageRequest';
import type { PullImageResponse } from '../../generated/runtime/v1/PullImageResponse';
import type { PullAuth } from '../../image';
import { requireString, requireValue } from '../validate';

export const pullImage = (services: CradleServices): UnaryRpc<PullImageRequest__Output, PullImageResponse> =>
  async (ctx, request) => {
    const ref = requireString(requireValue(request.image, 'image').image, 'image.image');
    let auth: PullAuth | undefined;
    if (request.auth) {
      const a = request.auth;
      auth = {
        ...(a.username ? { username: a.username } : {}),
        ...(a.password ? { password: a.password } : {}),
        ...(a.auth ? { auth: a.auth } : {}),
        ...(a.serverAddress ? { serverAddress: a.serverAddress } : {}),
        ...(a.identityToken ? { identityToken: a.identityToken } : {}),
        ...(a.registryToken ? { registryToken: a.registryToken } : {}),
      };
    }
    ctx.log.info({ image: ref, withAuth: auth !== undefined }, 'pulling image');
    const image = await services.images.pull(ref, auth, ctx.signal);
    ctx.log.info({ image: ref, id: image.id }, 'pulled image');
    return { imageRef: image.id };
  };
